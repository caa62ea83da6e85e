"""Fixtures: small databases built once per session by the real `neurosweep run`.

The executable is $NEUROSWEEP_BIN, else build/neurosweep of the repository (the README's test
command builds it first). Without it every test that needs a database is skipped with a message
saying so.
"""
import os
import subprocess
import sys
import warnings

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SPECS = os.path.join(HERE, "specs")
try:  # the package itself: installed (pip install -e python/) or from this checkout
    import neurosweep  # noqa: F401
except ImportError:
    sys.path.insert(0, os.path.dirname(HERE))


def _binary():
    env = os.environ.get("NEUROSWEEP_BIN")
    cands = [env] if env else [os.path.join(REPO, "build", "neurosweep"), os.path.join(os.getcwd(), "build", "neurosweep")]
    for c in cands:
        if c and os.path.isfile(c) and os.access(c, os.X_OK):
            return os.path.abspath(c)
    return None


@pytest.fixture(scope="session")
def binary():
    b = _binary()
    if b is None:
        pytest.skip("the neurosweep executable was not found (set NEUROSWEEP_BIN or build it into "
                    "build/neurosweep: cmake -S . -B build && cmake --build build)")
    p = subprocess.run([b, "run", "--help"], capture_output=True, text=True)
    if p.returncode != 0:
        pytest.skip(f"{b} has no `run` subcommand (an old build?)")
    return b


def run_cli(binary, *args, check=True):
    p = subprocess.run([binary, *args], capture_output=True, text=True)
    if check and p.returncode != 0:
        raise AssertionError(f"`neurosweep {' '.join(args)}` failed ({p.returncode}):\n{p.stderr}")
    return p


@pytest.fixture(scope="session")
def dbdir(tmp_path_factory):
    return tmp_path_factory.mktemp("dbs")


def _build(binary, dbdir, spec, out=None, *extra):
    out = out or os.path.join(str(dbdir), os.path.splitext(spec)[0] + ".h5")
    run_cli(binary, "run", os.path.join(SPECS, spec), "-o", out, "--threads", "2", "-q", *extra)
    return out


@pytest.fixture(scope="session")
def grid2(binary, dbdir):
    """4 x 4 grid (gCaS x gKd), spikes, final states, a stored trace of instance 9."""
    return _build(binary, dbdir, "grid2.json", None, "--chunk", "4")


@pytest.fixture(scope="session")
def grid3(binary, dbdir):
    """2 x 3 x 3 grid (gNa x gCaS x log gKd)."""
    return _build(binary, dbdir, "grid3.json")


@pytest.fixture(scope="session")
def neurons(binary, dbdir):
    """Categorical axis (3 presets) x I_ext grid."""
    return _build(binary, dbdir, "neurons.json")


@pytest.fixture(scope="session")
def sample(binary, dbdir):
    """Sobol sample sweep (no grid)."""
    return _build(binary, dbdir, "sample.json")


@pytest.fixture(scope="session")
def shards(binary, dbdir):
    """grid2 built as 2 shards of 4-instance chunks: [(path, k), ...]."""
    out = os.path.join(str(dbdir), "sharded.h5")
    paths = []
    for k in range(2):
        _build(binary, dbdir, "grid2.json", out, "--chunk", "4", "--shard", f"{k}/2")
        paths.append(os.path.join(str(dbdir), f"sharded.shard-{k}-of-2.h5"))
    for p in paths:
        assert os.path.exists(p), f"neurosweep run --shard did not write {p}"
    return paths


@pytest.fixture(scope="session")
def circuit(binary, dbdir):
    """The P04 network as a circuit object (3 cells), 2 x 2 grid, spikes of every cell."""
    return _build(binary, dbdir, "circuit.json", None, "--chunk", "2")


@pytest.fixture(scope="session")
def circuit_shards(binary, dbdir):
    """circuit.json built as 2 shards of 2-instance chunks, and their merge: ([paths], merged)."""
    out = os.path.join(str(dbdir), "circuit_sharded.h5")
    paths = []
    for k in range(2):
        _build(binary, dbdir, "circuit.json", out, "--chunk", "2", "--shard", f"{k}/2")
        paths.append(os.path.join(str(dbdir), f"circuit_sharded.shard-{k}-of-2.h5"))
    merged = os.path.join(str(dbdir), "circuit_merged.h5")
    run_cli(binary, "merge", *paths, "-o", merged)
    return paths, merged


@pytest.fixture(scope="session")
def unfinished(binary, dbdir):
    """An unfinished build of grid2 made by the real `neurosweep run`: chunks of 4 instances, the
    build stopped after three of its four chunks (--stop-after-chunks), then chunk 1 removed, as
    if the build had been killed before writing it (chunk files are atomic, so a killed build
    leaves exactly this): chunks 0 and 2 are done."""
    d = os.path.join(str(dbdir), "unfinished")
    os.makedirs(d)
    out = os.path.join(d, "grid2.h5")
    p = run_cli(binary, "run", os.path.join(SPECS, "grid2.json"), "-o", out, "--chunk", "4",
                "--threads", "2", "-q", "--stop-after-chunks", "3", check=False)
    assert p.returncode == 0 and not os.path.exists(out), p.stderr
    parts = out + ".parts"
    chunks = sorted(f for f in os.listdir(parts) if f.startswith("chunk-"))
    assert chunks == [f"chunk-{c:06d}.h5" for c in range(3)], chunks
    os.remove(os.path.join(parts, "chunk-000001.h5"))
    return out


@pytest.fixture
def quiet_unfinished():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


@pytest.fixture(scope="session", autouse=True)
def _explorer_cache_dir(tmp_path_factory):
    """The explorer's column cache (explorer/cache.py) in a temporary directory, not ~/.cache."""
    if "NEUROSWEEP_CACHE" not in os.environ:
        os.environ["NEUROSWEEP_CACHE"] = str(tmp_path_factory.mktemp("explorer-cache"))
    yield
