"""`neurosweep explore DB` / `neurosweep.explore(db)`: a local web application over a database.

Label or feature maps over two grid axes with a selector per other axis, datashader densities for
random/Sobol databases, an instance panel (parameters, label, features and the voltage trace
re-simulated with `neurosweep simulate`), a query box in the `neurosweep query --where` language,
label fractions, feature histograms per label and export of the selection (CSV, Parquet, sweep
spec). Needs the explorer requirements (scripts/requirements/explorer.txt: panel, bokeh,
datashader, pyarrow).
"""
from __future__ import annotations

from typing import Optional

from .data import ExplorerData, ExplorerError, Selection


def explore(db, port: int = 0, address: str = "127.0.0.1", binary: Optional[str] = None,
            export_dir: Optional[str] = None, show: bool = True, block: bool = False):
    """Serve the explorer of `db` (a path or a Database) on localhost and print its URL. In a
    notebook (block=False) the server runs in a background thread: returns (thread, url); call
    thread.stop() to end it."""
    from .app import serve

    path = db if isinstance(db, str) else getattr(db, "path", str(db))
    return serve(path, port=port, address=address, binary=binary, export_dir=export_dir, show=show,
                 threaded=not block)


__all__ = ["explore", "ExplorerData", "ExplorerError", "Selection"]
