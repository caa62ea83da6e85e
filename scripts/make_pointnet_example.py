#!/usr/bin/env python3
"""The BMTK PointNet example of sweeps/ (docs/NETWORKS.md, "BMTK PointNet networks").

Builds the small PointNet network of tests/data/pointnet/build_ei.py (160 E + 40 I iaf_psc_alpha
cells, 100 virtual Poisson inputs, written by bmtk's NetworkBuilder as SONATA files) into
sweeps/pointnet_example/ and converts it with neurosweep.pointnet.write_spec into
sweeps/pointnet_example/sweep.json: a 3 x 3 grid over one node-type parameter (E.tau_m, the E
node type's dynamics_params) and one edge-type parameter (poisson->E.weight_scale, the input edge
type's syn_weight scaled), with SONATA spike files of two instances.

    /work/main/.venv/bin/python scripts/make_pointnet_example.py [--out DIR]
    neurosweep run sweeps/pointnet_example/sweep.json -o pointnet.h5

Needs bmtk (scripts/requirements); the generated files are git-ignored (about 520 KB: over the 200 KB kept in git).
"""
import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "data", "pointnet"))
sys.path.insert(0, os.path.join(REPO, "python"))

AXES = [{"kind": "grid", "param": "E.tau_m", "values": [10.0, 20.0, 30.0]},
        {"kind": "grid", "param": "poisson->E.weight_scale", "values": [0.5, 1.0, 1.5]}]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(REPO, "sweeps", "pointnet_example"))
    a = ap.parse_args(argv)
    import build_ei
    from neurosweep import pointnet
    os.makedirs(a.out, exist_ok=True)
    config = build_ei.build(a.out)
    spec_path = os.path.join(a.out, "sweep.json")
    pointnet.write_spec(config, spec_path, axes=AXES)
    spec = json.load(open(spec_path))
    spec["name"] = "pointnet_example"
    spec["description"] = ("BMTK PointNet network (scripts/make_pointnet_example.py): E.tau_m x "
                           "poisson->E.weight_scale, 1 s at dt 0.1 ms")
    spec.setdefault("output", {})["sonata_spikes"] = {"instances": [0, 8]}
    with open(spec_path, "w") as f:
        json.dump(spec, f, indent=1)
    total = sum(os.path.getsize(os.path.join(d, n)) for d, _, fs in os.walk(a.out) for n in fs)
    print(f"wrote {spec_path} ({total / 1024:.0f} KB in {a.out})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
