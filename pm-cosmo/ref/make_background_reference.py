#!/usr/bin/env python3
"""Reference background, growth and distance vectors for pm-cosmo's tests, from CCL (pyccl).

Run from this folder:  python3 -m venv /tmp/ccl && /tmp/ccl/bin/pip install pyccl==3.3.6 numpy
                        /tmp/ccl/bin/python make_background_reference.py
Writes background_<name>.txt for every cosmology in cosmologies.json, columns:
a  E(a)  D1(a)  f1(a)  chi(a) [Mpc/h]  d_M(a) [Mpc/h]
with D1 normalised to 1 at a = 1 (CCL's growth_factor). CCL's numerical tolerances are
tightened so that the vectors are accurate well below the 1e-4 the tests ask for.
"""
import json

import numpy as np
import pyccl as ccl

ccl.gsl_params["INTEGRATION_DISTANCE_EPSREL"] = 1e-10
ccl.gsl_params["ODE_GROWTH_EPSREL"] = 1e-10
ccl.gsl_params["ROOT_EPSREL"] = 1e-12


def cosmology(p):
    return ccl.Cosmology(
        Omega_c=p["Omega_c"], Omega_b=p["Omega_b"], h=p["h"], n_s=p["n_s"], sigma8=p["sigma8"],
        w0=p["w0"], wa=p["wa"], Omega_k=p["Omega_k"], T_CMB=p["T_cmb"], Neff=p["N_eff"],
        m_nu=0.0, transfer_function="eisenstein_hu", matter_power_spectrum="linear")


def main():
    with open("cosmologies.json") as f:
        cosmos = json.load(f)
    a = np.geomspace(0.01, 1.0, 41)
    for name, p in cosmos.items():
        c = cosmology(p)
        h = p["h"]
        cols = [
            a,
            ccl.h_over_h0(c, a),
            ccl.growth_factor(c, a),
            ccl.growth_rate(c, a),
            ccl.comoving_radial_distance(c, a) * h,
            ccl.comoving_angular_distance(c, a) * h,
        ]
        header = (f"CCL {ccl.__version__} reference for '{name}': {json.dumps(p)}\n"
                  "a E(a) D1(a) f1(a) chi(a)[Mpc/h] d_M(a)[Mpc/h]")
        np.savetxt(f"background_{name}.txt", np.column_stack(cols), header=header, fmt="%.12e")
        print(name, "Omega_g", c["Omega_g"], "Omega_nu_rel", c["Omega_nu_rel"], "Omega_l", c["Omega_l"])


if __name__ == "__main__":
    main()
