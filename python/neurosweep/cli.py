"""`neurosweep-plot`: pictures of a neurosweep database from the command line.

    neurosweep-plot DB.h5 --map gCaS gKd -o map.png
    neurosweep-plot DB.h5 --map gCaS gKd --fixed gNa=100 -o map.png
    neurosweep-plot DB.h5 --map gCaS gKd --marginalise bursting -o frac.png
    neurosweep-plot DB.h5 --fractions [--by gCaS] -o fractions.png
    neurosweep-plot DB.h5 --feature burst_period_ms [--by label] -o period.png
    neurosweep-plot DB.h5 --trace 1970 [--window 0 3000] -o trace.png
    neurosweep-plot DB.h5 --info
"""
from __future__ import annotations

import argparse
import os
import sys
import warnings
from typing import List, Optional


def _value(text: str):
    try:
        return float(text)
    except ValueError:
        return text


def main(argv: Optional[List[str]] = None) -> int:
    import matplotlib

    matplotlib.use("Agg")
    from . import plots
    from .database import open as open_db
    from .errors import NeurosweepError, UnfinishedDatabaseWarning

    ap = argparse.ArgumentParser(
        prog="neurosweep-plot",
        description="Draw a picture of a neurosweep database (DB.h5, a shard file or an "
                    "unfinished build).")
    ap.add_argument("db", help="database file (or unfinished build: DB.h5 or DB.h5.parts)")
    what = ap.add_mutually_exclusive_group(required=True)
    what.add_argument("--map", nargs=2, metavar=("X", "Y"),
                      help="label map over two grid axes (axis or parameter names)")
    what.add_argument("--fractions", action="store_true", help="fractions of the activity labels")
    what.add_argument("--feature", metavar="NAME", help="distribution of a feature column by label")
    what.add_argument("--trace", type=int, metavar="I",
                      help="re-simulate instance I with `neurosweep simulate` and draw V (and Ca)")
    what.add_argument("--info", action="store_true", help="print the summary `neurosweep info` prints")
    ap.add_argument("-o", "--output", help="picture file (.png, .pdf, .svg); default: "
                                           "<db name>_<plot>.png beside the database")
    ap.add_argument("--fixed", action="append", default=[], metavar="AXIS=VALUE",
                    help="--map: fix another grid axis at a value (repeatable)")
    ap.add_argument("--marginalise", "--marginalize", metavar="LABEL",
                    help="--map: show the fraction of LABEL over the axes not drawn")
    ap.add_argument("--by", help="--fractions: along this grid axis; --feature: enum column "
                                 "to split by (default label; 'none' pools)")
    ap.add_argument("--bins", type=int, default=40, help="--feature: histogram bins")
    ap.add_argument("--log", action="store_true", help="--feature: logarithmic bins")
    ap.add_argument("--window", nargs=2, type=float, metavar=("T0", "T1"),
                    help="--trace: time window in ms from the start of the analysis window")
    ap.add_argument("--binary", help="--trace: the neurosweep executable (default: "
                                     "$NEUROSWEEP_BIN, PATH, ./build/neurosweep)")
    ap.add_argument("--dpi", type=int, default=120)
    a = ap.parse_args(argv)

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", UnfinishedDatabaseWarning)
            db = open_db(a.db)
        for w in caught:
            print(f"neurosweep-plot: warning: {w.message}", file=sys.stderr)
        if a.info:
            sys.stdout.write(db.info())
            return 0
        stem = os.path.join(os.path.dirname(os.path.abspath(db.path.rstrip("/"))), db.name)
        if a.map:
            fixed = {}
            for f in a.fixed:
                if "=" not in f:
                    ap.error(f"--fixed {f!r}: expected AXIS=VALUE")
                k, v = f.split("=", 1)
                fixed[k] = _value(v)
            out = a.output or f"{stem}_map_{a.map[0]}_{a.map[1]}.png"
            plots.plot_map(db, a.map[0], a.map[1], fixed=fixed, marginalise=a.marginalise,
                           out=out, dpi=a.dpi)
        elif a.fractions:
            out = a.output or f"{stem}_fractions.png"
            plots.plot_fractions(db, by=a.by, out=out, dpi=a.dpi)
        elif a.feature:
            by = "label" if a.by is None else (None if a.by.lower() == "none" else a.by)
            out = a.output or f"{stem}_{a.feature}.png"
            plots.plot_feature(db, a.feature, by=by, bins=a.bins, log=a.log, out=out, dpi=a.dpi)
        else:
            out = a.output or f"{stem}_trace_{a.trace}.png"
            plots.plot_trace(db, a.trace, binary=a.binary,
                             window=tuple(a.window) if a.window else None, out=out, dpi=a.dpi)
    except (NeurosweepError, KeyError, ValueError, OSError) as e:
        msg = e.args[0] if isinstance(e, KeyError) and e.args else e
        print(f"neurosweep-plot: error: {msg}", file=sys.stderr)
        return 2
    print(f"wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
