"""python -m neurosweep.explorer DB [--port P] [--address A] [--binary EXE] [--export-dir D]
(what `neurosweep explore` runs)."""
from __future__ import annotations

import argparse
import sys
from typing import List, Optional


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="neurosweep explore",
                                 description="Explore a neurosweep database in the browser (localhost).")
    ap.add_argument("db", help="database file (complete or shard)")
    ap.add_argument("--port", type=int, default=0, help="port (default: a free one; the URL is printed)")
    ap.add_argument("--address", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    ap.add_argument("--binary", help="the neurosweep executable (re-simulation, queries)")
    ap.add_argument("--export-dir", help="where exports are written (default: the current directory)")
    ap.add_argument("--show", action="store_true", help="open a browser tab")
    a = ap.parse_args(argv)
    from ..errors import NeurosweepError
    try:
        from .app import serve
        serve(a.db, port=a.port, address=a.address, binary=a.binary, export_dir=a.export_dir, show=a.show)
    except ImportError as e:
        print(f"neurosweep explore: {e}; install the explorer's packages: pip install -r "
              f"scripts/requirements/explorer.txt", file=sys.stderr)
        return 2
    except NeurosweepError as e:
        print(f"neurosweep explore: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
