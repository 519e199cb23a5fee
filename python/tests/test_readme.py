"""The README's Python example runs as written, in a fresh interpreter with JAX's defaults
(float32, no x64: the path most users take; the other tests enable x64)."""

import re
import subprocess
import sys

import pytest

from conftest import ROOT

pytest.importorskip("jax")


def test_readme_python_example_runs():
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Python"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    code += (
        "\nimport math\n"
        "assert math.isfinite(float(value)) and math.isfinite(float(g_sigma8))\n"
        "assert g_noise.shape == noise.shape and str(g_noise.dtype) == 'float32'\n"
        "assert float(g_sigma8) > 0  # more clustering, larger sum of delta^2\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd="/")
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().endswith("ok")
