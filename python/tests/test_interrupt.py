"""Ctrl-C during a long pmrs.simulate stops it within a step with KeyboardInterrupt."""

import os
import signal
import threading
import time

import pytest

import pmrs
from conftest import tiny


def test_keyboard_interrupt_stops_simulate_within_a_step():
    config = tiny("f64", particles=16, mesh=32)
    # The time of one step on this machine and build.
    t0 = time.monotonic()
    pmrs.simulate(dict(config, output={"power": False}))
    step = (time.monotonic() - t0) / 3
    # A run of 100 000 steps (hours); SIGINT after 0.3 s.
    long = {"simulation": dict(config["simulation"], steps=100_000), "output": {"power": False}}
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
    start = time.monotonic()
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        pmrs.simulate(long)
    stopped = time.monotonic() - start - 0.3
    timer.join()
    # Within one step (the run checks after each), plus the 20 ms signal poll and slack.
    assert stopped < 2 * step + 0.2, f"stopped {stopped:.3f} s after SIGINT, a step is {step:.4f} s"
