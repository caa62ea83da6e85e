"""Every stored byte is checked (issue 13, finding 5).

A small database is built by the real `neurosweep run` (spikes, final states, a trace, grid axes),
once complete and once as an unfinished build (chunk files). Then:

1. one byte of the stored data of every dataset (every HDF5 chunk of it) is flipped in a copy, and
   every reader that reads that dataset reports it: the Python API (CorruptDatabaseError naming
   the file, the dataset and the checksum), `neurosweep query` and `neurosweep info` (exit code 3,
   the same), and h5py itself (the Fletcher32 filter) for datasets the API does not read (/axes);
2. a sweep over the whole file (every 41st byte, and every byte of the first 512, where the
   superblock and root object header live) flips one byte at a time and reads everything back
   (every attribute and every dataset): each flip is either reported as an error or provably
   harmless, i.e. everything reads back identical to the original. None may change a value
   silently.
"""
import os
import shutil
import subprocess

import h5py
import numpy as np
import pytest

import neurosweep as ns
from neurosweep.errors import CorruptDatabaseError

SPEC = """{
  "model": "iaf_psc_exp", "dt": "0.1 ms", "transient": "0 ms", "analysis": "1 s", "seed": 1,
  "classifier": {"slowest_period_ms": 250},
  "axes": [{"kind": "grid", "param": "I_e", "linspace": {"start": 0, "stop": 1100, "count": 6}},
           {"kind": "categorical", "name": "cell", "presets": [{"name": "fast", "params": {"tau_m": 5}}, {"name": "slow", "params": {"tau_m": 20}}]}],
  "output": {"spikes": 8, "final_state": true, "traces": {"instances": [9], "every": "10 ms"}}
}"""


def _build(binary, d, *extra):
    spec = os.path.join(d, "tiny.json")
    with open(spec, "w") as fh:
        fh.write(SPEC)
    out = os.path.join(d, "db.h5")
    p = subprocess.run([binary, "run", spec, "-o", out, "-q", "--chunk", "4", *extra],
                       capture_output=True, text=True)
    return out, p


@pytest.fixture(scope="module")
def complete_db(binary, tmp_path_factory):
    d = str(tmp_path_factory.mktemp("flip"))
    out, p = _build(binary, d)
    assert p.returncode == 0, p.stderr
    return out


def _datasets(path):
    out = []
    with h5py.File(path, "r") as f:
        f.visititems(lambda n, o: out.append(n) if isinstance(o, h5py.Dataset) else None)
    return out


def _chunk_spans(path, name):
    """(offset, size) in the file of every stored chunk of dataset `name`."""
    with h5py.File(path, "r") as f:
        ds = f[name]
        assert ds.chunks is not None, f"{name} is not chunked: it cannot carry a checksum"
        assert "fletcher32" in (ds.fletcher32 and ["fletcher32"] or []), f"{name}: no Fletcher32"
        n = ds.id.get_num_chunks()
        return [(ds.id.get_chunk_info(i).byte_offset, ds.id.get_chunk_info(i).size) for i in range(n)]


def _flip(src, dst, offset):
    shutil.copyfile(src, dst)
    with open(dst, "r+b") as fh:
        fh.seek(offset)
        b = fh.read(1)
        fh.seek(offset)
        fh.write(bytes([b[0] ^ 0x5A]))


def _read_everything(path):
    """Every attribute and dataset of a file as plain bytes, or the error raised."""
    out = {}
    with h5py.File(path, "r") as f:
        out["/"] = {k: np.asarray(v).tobytes() for k, v in f.attrs.items()}

        def visit(n, o):
            out[n + "@"] = {k: np.asarray(v).tobytes() for k, v in o.attrs.items()}
            if isinstance(o, h5py.Dataset):
                out[n] = np.asarray(o[()]).tobytes()
        f.visititems(visit)
    return out


def _api_reads_all(path):
    with ns.open(path) as db:
        db.to_pandas()
        db.spike_times()
        db.spike_offsets()
        for i in db.stored_traces():
            db.stored_trace(i)


def test_every_dataset_of_a_database_has_a_checksum_and_every_flip_is_reported(binary, complete_db, tmp_path):
    names = _datasets(complete_db)
    assert {"instances/I_e", "instances/label", "spikes/times", "spikes/offsets", "traces/9/V_m",
            "axes/I_e/I_e", "axes/cell/labels"} <= set(names), names
    flips = 0
    for name in names:
        for k, (off, size) in enumerate(_chunk_spans(complete_db, name)):
            bad = str(tmp_path / "bad.h5")
            _flip(complete_db, bad, off + size // 2)
            flips += 1
            # h5py (any HDF5 reader): the Fletcher32 filter refuses the chunk
            with h5py.File(bad, "r") as f:
                with pytest.raises(OSError):
                    f[name][()]
            if name.startswith(("axes/", "final_state/")):
                continue  # the API reads axis values from the schema and has no final-state reader
            with pytest.raises(CorruptDatabaseError, match="checksum") as e:
                _api_reads_all(bad)
            assert bad in str(e.value) and name in str(e.value) and "checksum" in str(e.value), str(e.value)
            if name.startswith("instances/"):
                col = name.split("/", 1)[1]
                p = subprocess.run([binary, "query", bad, "--columns", col], capture_output=True, text=True)
                assert p.returncode == 3, (name, p.stdout[:200], p.stderr)
                assert bad in p.stderr and col in p.stderr and "checksum" in p.stderr, p.stderr
            if name in ("instances/label", "instances/status"):
                p = subprocess.run([binary, "info", bad], capture_output=True, text=True)
                assert p.returncode == 3 and "checksum" in p.stderr and name.split("/")[1] in p.stderr, p.stderr
    assert flips >= len(names)


def test_a_flipped_byte_anywhere_is_reported_or_harmless(complete_db, tmp_path):
    ref = _read_everything(complete_db)
    size = os.path.getsize(complete_db)
    offsets = sorted(set(range(0, min(size, 512))) | set(range(0, size, 41)))
    reported = harmless = 0
    bad = str(tmp_path / "bad.h5")
    silent = []
    for off in offsets:
        _flip(complete_db, bad, off)
        try:
            got = _read_everything(bad)
        except Exception:  # noqa: BLE001 - any refusal counts as reported
            reported += 1
            continue
        if got == ref:
            harmless += 1
        else:
            silent.append(off)
    print(f"byte flips: {len(offsets)} of {size} bytes: {reported} reported, {harmless} harmless "
          f"(unused bytes), {len(silent)} silent")
    assert not silent, f"flipped bytes at offsets {silent[:20]} changed values silently"
    assert reported > len(offsets) // 2


def test_flipped_chunk_file_is_reported_by_resume_and_by_the_api(binary, tmp_path):
    out, p = _build(binary, str(tmp_path), "--stop-after-chunks", "2")
    assert p.returncode == 0, p.stderr
    parts = out + ".parts"
    chunk = os.path.join(parts, "chunk-000001.h5")
    spans = _chunk_spans(chunk, "instances/I_e")
    with open(chunk, "r+b") as fh:
        off = spans[0][0] + spans[0][1] // 2
        fh.seek(off)
        b = fh.read(1)
        fh.seek(off)
        fh.write(bytes([b[0] ^ 0x01]))
    with pytest.raises(CorruptDatabaseError) as e:
        with pytest.warns(ns.errors.UnfinishedDatabaseWarning):
            _api_reads_all(out)
    assert chunk in str(e.value) and "instances/I_e" in str(e.value) and "checksum" in str(e.value)
    p = subprocess.run([binary, "run", os.path.join(str(tmp_path), "tiny.json"), "-o", out, "-q", "--resume"],
                       capture_output=True, text=True)
    assert p.returncode == 3, p.stderr
    assert chunk in p.stderr and "I_e" in p.stderr and "checksum" in p.stderr, p.stderr
    assert "delete" in p.stderr and "--resume" in p.stderr, p.stderr  # what to do about it
    assert not os.path.exists(out)


def test_incomplete_or_damaged_database_is_refused_like_the_cli(binary, complete_db, tmp_path):
    # complete = 0 (an interrupted finalize or merge): refused, as `neurosweep info` refuses it
    bad = str(tmp_path / "incomplete.h5")
    shutil.copyfile(complete_db, bad)
    with h5py.File(bad, "r+") as f:
        f.attrs["complete"] = np.int64(0)
    with pytest.raises(CorruptDatabaseError, match="not marked complete"):
        ns.open(bad)
    p = subprocess.run([binary, "info", bad], capture_output=True, text=True)
    assert p.returncode == 3 and "not marked complete" in p.stderr, p.stderr
    # /spikes/times deleted: a CorruptDatabaseError naming the file and dataset, not a KeyError;
    # `neurosweep info` notices it too
    gone = str(tmp_path / "nospikes.h5")
    shutil.copyfile(complete_db, gone)
    with h5py.File(gone, "r+") as f:
        del f["spikes/times"]
    with ns.open(gone) as db:
        with pytest.raises(CorruptDatabaseError, match="spikes/times is missing") as e:
            db.spike_times()
        assert gone in str(e.value)
        with pytest.raises(CorruptDatabaseError, match="spikes/times"):
            db.spikes(3)
    p = subprocess.run([binary, "info", gone], capture_output=True, text=True)
    assert p.returncode == 3 and "spikes/times" in p.stderr and gone in p.stderr, p.stderr


def test_unclassified_is_a_label_name(binary, complete_db):
    with ns.open(complete_db) as db:
        counts = db.label_counts()
    assert "-1" not in counts  # -1 is counted under its name, like `neurosweep info` does
    with h5py.File(complete_db, "r") as f:
        mapping = h5py.check_enum_dtype(f["instances/label"].dtype)
    assert mapping["unclassified"] == -1
