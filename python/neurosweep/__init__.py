"""neurosweep: read, analyse and plot neurosweep parameter-sweep databases.

    import neurosweep
    db = neurosweep.open("demo.h5")
    df = db.to_pandas()                 # one row per instance: parameters, label, features
    ds = db.to_xarray()                 # grid sweeps: one dimension per grid axis
    t = db.spikes(1970)                 # stored spike times of instance 1970 (ms)
    t = db.spikes(3, "LP")              # circuits: of one cell (db.spike_cells; db.circuit)
    neurosweep.plot_map(db, "gCaS", "gKd", out="map.png")
    neurosweep.models(); neurosweep.model_info("iaf_psc_alpha")   # the model registry
    eng = neurosweep.Engine(model="stg", transient="2 s", analysis="10 s")  # the engine in memory
    df = eng.evaluate({"gCaS": [4, 8], "gKd": [50, 100]})            # status, label, features

The file format is docs/FORMAT.md of the neurosweep repository.
"""
from .database import KNOWN_FORMAT_VERSION, Axis, Database, open
from .engine import Engine
from .errors import (CorruptDatabaseError, DatabaseNotFoundError, FormatVersionError,
                     InstanceNotAvailableError, NeurosweepError, NotADatabaseError, NotAGridError,
                     SimulateError, UnfinishedDatabaseWarning)
from .plots import LABEL_COLOURS, label_colour, plot_feature, plot_fractions, plot_map, plot_scatter, plot_trace
from .models import model_info, models
from .simulate import Trace, find_binary, resimulate

__version__ = "0.1.0"


def explore(db, **kw):
    """The web explorer of a database on localhost (neurosweep.explorer.explore; needs panel,
    bokeh, datashader: scripts/requirements/explorer.txt)."""
    from .explorer import explore as _explore

    return _explore(db, **kw)


__all__ = [
    "open", "Database", "Axis", "KNOWN_FORMAT_VERSION", "Engine",
    "plot_map", "plot_scatter", "plot_fractions", "plot_feature", "plot_trace", "LABEL_COLOURS", "label_colour",
    "resimulate", "Trace", "find_binary", "models", "model_info", "explore",
    "NeurosweepError", "DatabaseNotFoundError", "NotADatabaseError", "FormatVersionError",
    "CorruptDatabaseError", "NotAGridError", "InstanceNotAvailableError", "SimulateError",
    "UnfinishedDatabaseWarning",
]
