"""Exceptions and warnings of the neurosweep package.

Every error message names the file (or instance) and the problem, like the C++ CLI does.
"""


class NeurosweepError(Exception):
    """Base class of every error raised by this package."""


class DatabaseNotFoundError(NeurosweepError, FileNotFoundError):
    """Neither DB.h5 nor an unfinished build DB.h5.parts/ exists."""


class NotADatabaseError(NeurosweepError, ValueError):
    """The file is not a neurosweep database (not HDF5, or a foreign HDF5 file)."""


class FormatVersionError(NeurosweepError):
    """The database has a newer format_version than this package knows."""


class CorruptDatabaseError(NeurosweepError):
    """The file claims to be a neurosweep database but its content is inconsistent."""


class NotAGridError(NeurosweepError, ValueError):
    """A grid-only operation (to_xarray, plot_map) on a sweep without grid axes."""


class InstanceNotAvailableError(NeurosweepError, IndexError):
    """The instance is outside the database's rows (shard) or not computed yet (unfinished)."""


class SimulateError(NeurosweepError):
    """Re-simulating an instance through `neurosweep simulate` failed or is impossible."""


class UnfinishedDatabaseWarning(UserWarning):
    """Opened an unfinished build: only the chunks done so far are read."""
