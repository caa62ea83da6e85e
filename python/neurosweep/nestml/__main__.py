"""`python -m neurosweep.nestml generate FILE.nestml OUT_DIR [--numeric-solver S]`

The step of `neurosweep model build` (host/models/plugin.cpp) that needs Python: PyNESTML parses,
checks and analyses the model and neurosweep's target writes OUT_DIR/<model>.hpp. On success one
JSON object on stdout (name, header, struct, solver, nestml version); on a NESTML error or a
construct the target cannot express, the message (file:line: error: ...) on stderr and exit
status 2. `python -m neurosweep.nestml version` prints the generator and NESTML versions.
"""
import argparse
import contextlib
import io
import json
import os
import sys


def _nestml_version() -> str:
    try:
        from importlib.metadata import version
        return version("nestml")
    except Exception:  # pragma: no cover - not installed: generate reports it
        return "unknown"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m neurosweep.nestml")
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("generate", help="generate the neurosweep header of a .nestml model")
    g.add_argument("file")
    g.add_argument("out_dir")
    g.add_argument("--numeric-solver", default="rk45", help="rk45 (default) or forward-Euler")
    sub.add_parser("version", help="generator and NESTML versions")
    a = ap.parse_args(argv)
    from .generator import GENERATOR_VERSION, NestmlError, generate
    if a.cmd == "version":
        print(json.dumps({"generator": GENERATOR_VERSION, "nestml": _nestml_version()}))
        return 0
    try:
        import pynestml  # noqa: F401
    except ImportError:
        print(f"{a.file}: error: the Python package 'nestml' is not installed in {sys.executable} "
              "(scripts/requirements/nestml.txt; or set NEUROSWEEP_PYTHON to a Python that has it)",
              file=sys.stderr)
        return 3
    # PyNESTML and ODE-toolbox print progress on stdout: keep stdout for the JSON answer.
    noise = io.StringIO()
    try:
        with contextlib.redirect_stdout(noise):
            r = generate(a.file, a.out_dir, numeric_solver=a.numeric_solver)
    except NestmlError as e:
        print(str(e), file=sys.stderr)
        return 2
    print(json.dumps({"name": r.name, "header": os.path.abspath(r.header), "struct": r.struct,
                      "solver": r.solver, "source": r.source, "generator": GENERATOR_VERSION,
                      "nestml": _nestml_version()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
