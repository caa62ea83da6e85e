"""output.sonata_spikes (docs/NETWORKS.md, "Outputs"): every spike of chosen network instances in
the SONATA spike-file layout. With sample = size and enough spikes kept per neuron the database's
sampled spikes are every spike too, so the two must agree exactly (the database keeps float32
times: float32(SONATA time) == stored time, no tolerance). BMTK's own reader must read the file and
get the same spikes. A build stopped before the SONATA pass and resumed ends with the same files."""
import copy
import json

import h5py
import numpy as np
import pytest

import neurosweep as ns
from conftest import run_cli

NE, NI = 80, 20
SPEC = {
    "model": "network", "dt": "0.1 ms", "transient": "20 ms", "analysis": "100 ms", "seed": 5,
    "network": {
        "parameters": {"J": 0.5, "g": 5.0, "eta": 2.0},
        "populations": [
            {"name": "E", "model": "iaf_psc_delta", "size": NE, "sample": NE,
             "params": {"E_L": 0, "V_m": 0, "V_reset": 10, "V_th": 20, "tau_m": 20, "t_ref": 2, "C_m": 1}},
            {"name": "I", "model": "iaf_psc_delta", "size": NI, "sample": NI,
             "params": {"E_L": 0, "V_m": 0, "V_reset": 10, "V_th": 20, "tau_m": 20, "t_ref": 2, "C_m": 1}}],
        "projections": [
            {"source": "E", "target": "E", "rule": "fixed_indegree", "indegree": 8, "weight": "J", "delay": 1.5},
            {"source": "E", "target": "I", "rule": "fixed_indegree", "indegree": 8, "weight": "J", "delay": 1.5},
            {"source": "I", "target": "E", "rule": "fixed_indegree", "indegree": 2, "weight": "-g*J", "delay": 1.5},
            {"source": "I", "target": "I", "rule": "fixed_indegree", "indegree": 2, "weight": "-g*J", "delay": 1.5}],
        "drives": [{"target": "E", "type": "poisson", "rate": "eta * 2000", "weight": "J"},
                   {"target": "I", "type": "poisson", "rate": "eta * 2000", "weight": "J"}]},
    "axes": [{"kind": "grid", "param": "g", "values": [3.0, 6.0]},
             {"kind": "grid", "param": "eta", "values": [1.5, 3.0]}],
    "output": {"spikes": 1000, "rate_bin": "1 ms", "sonata_spikes": {"instances": [1, 2]}},
}


def _build(binary, tmp_path, spec, name="net", *extra):
    p = tmp_path / f"{name}.json"
    p.write_text(json.dumps(spec))
    out = tmp_path / f"{name}.h5"
    run_cli(binary, "run", str(p), "-o", str(out), "--threads", "2", "-q", *extra)
    return out


def _read(path):
    with h5py.File(path, "r") as f:
        return {pop: (g["node_ids"][()], g["timestamps"][()], g.attrs["sorting"], g["timestamps"].attrs["units"])
                for pop, g in f["spikes"].items()}


def test_sonata_spikes_equal_the_full_sample(binary, tmp_path):
    out = _build(binary, tmp_path, SPEC)
    db = ns.open(out)
    assert sorted(p.name for p in (tmp_path / "net.h5.sonata").iterdir()) == ["instance_1.h5", "instance_2.h5"]
    n_total = 0
    for i in (1, 2):
        path = db.sonata_spikes_path(i)
        f = _read(path)
        assert sorted(f) == ["E", "I"]
        for pop, n in (("E", NE), ("I", NI)):
            ids, t, sorting, units = f[pop]
            assert sorting == "by_time" and units == "ms"
            assert ids.dtype == np.uint64 and t.dtype == np.float64
            assert (np.diff(t) >= 0).all()
            assert ids.max() < n
            # the stored sample (every neuron, every spike) equals the SONATA file, neuron by neuron
            for k in range(n):
                stored = db.spikes(i, cell=f"{pop}:{k}")
                assert np.array_equal(t[ids == k].astype(np.float32), stored), (i, pop, k)
            n_total += len(t)
            # and the population's rate column is the file's spike count / N / window
            r = db.row(i)[f"{pop}.rate_hz"]
            assert abs(len(t) / n / 0.1 - r) <= 1e-4 * max(r, 1), (len(t), r)
    assert n_total > 500  # the networks fire (the comparison is not empty)
    # the Python accessor reads the same
    got = db.sonata_spikes(2)
    assert np.array_equal(got["E"][1], _read(db.sonata_spikes_path(2))["E"][1])
    with pytest.raises(KeyError, match="instance 0 has no SONATA spike file"):
        db.sonata_spikes_path(0)


def test_bmtk_reads_the_sonata_file(binary, tmp_path):
    st = pytest.importorskip("bmtk.utils.reports.spike_trains", reason="bmtk is not installed")
    out = _build(binary, tmp_path, SPEC)
    db = ns.open(out)
    path = db.sonata_spikes_path(1)
    f = _read(path)
    trains = st.SpikeTrains.load(path)
    assert sorted(trains.populations) == ["E", "I"]
    for pop in ("E", "I"):
        df = trains.to_dataframe(populations=pop, sort_order="by_time")
        ids, t, _, _ = f[pop]
        assert len(df) == len(t)
        for k in np.unique(ids):
            assert np.array_equal(np.sort(df[df["node_ids"] == k]["timestamps"].values), t[ids == k]), (pop, k)


def test_resumed_build_ends_with_the_same_files(binary, tmp_path):
    one = _build(binary, tmp_path, SPEC, "one")
    two_dir = tmp_path / "two.h5.sonata"
    two_dir.mkdir()
    (two_dir / "instance_1.h5").write_bytes(b"stale file of an older build")  # a fresh build replaces it
    spec_path = tmp_path / "two.json"
    spec_path.write_text(json.dumps(SPEC))
    out = tmp_path / "two.h5"
    p = run_cli(binary, "run", str(spec_path), "-o", str(out), "--threads", "2", "--chunk", "1",
                "--stop-after-chunks", "2", "-q", check=False)
    assert p.returncode == 0, p.stderr
    assert not (two_dir / "instance_1.h5").exists()  # removed at the start, not yet rewritten
    run_cli(binary, "run", str(spec_path), "-o", str(out), "--threads", "1", "--resume", "-q")
    for i in (1, 2):
        a, b = _read(tmp_path / "one.h5.sonata" / f"instance_{i}.h5"), _read(two_dir / f"instance_{i}.h5")
        for pop in ("E", "I"):
            assert np.array_equal(a[pop][0], b[pop][0]) and np.array_equal(a[pop][1], b[pop][1])


@pytest.mark.parametrize("sel, msg", [
    ({"instances": [1, 4]}, r"output\.sonata_spikes\.instances\[1\].*4.*instance index < 4"),
    ({"instances": [2, 2]}, r"output\.sonata_spikes\.instances\[1\].*distinct"),
    ({"instances": [1], "bogus": 1}, r"output\.sonata_spikes.*bogus"),
    ({}, r"output\.sonata_spikes.*instances"),
])
def test_bad_selections_name_key_and_value(binary, tmp_path, sel, msg):
    spec = copy.deepcopy(SPEC)
    spec["output"]["sonata_spikes"] = sel
    p = tmp_path / "bad.json"
    p.write_text(json.dumps(spec))
    r = run_cli(binary, "run", str(p), "-o", str(tmp_path / "bad.h5"), "-q", check=False)
    assert r.returncode != 0
    assert __import__("re").search(msg, r.stderr), r.stderr


def test_sonata_spikes_refused_for_single_neurons(binary, tmp_path):
    spec = {"model": "iaf_psc_delta", "dt": "0.1 ms", "transient": "10 ms", "analysis": "200 ms",
            "axes": [{"kind": "grid", "param": "I_e", "values": [0, 500]}],
            "output": {"sonata_spikes": {"instances": [0]}}}
    p = tmp_path / "single.json"
    p.write_text(json.dumps(spec))
    r = run_cli(binary, "run", str(p), "-o", str(tmp_path / "single.h5"), "-q", check=False)
    assert r.returncode != 0
    assert "output.sonata_spikes" in r.stderr and "iaf_psc_delta" in r.stderr, r.stderr


def _two_labels():
    """SPEC with eta 0.2 (quiescent) and 3.0 (AR): instances 0, 2 quiescent, 1, 3 AR."""
    spec = copy.deepcopy(SPEC)
    spec["axes"][1]["values"] = [0.2, 3.0]
    return spec


def _labels(db):
    df = db.to_pandas()
    return df["label"].astype(str).tolist(), df


def test_chosen_by_label_and_query(binary, tmp_path):
    """output.sonata_spikes.per_label / where: the instances are chosen after classification by the
    rule of output.traces (store/database.hpp choose_traces), explicit instances kept besides; the
    database lists them (Database.sonata_instances) and every chosen file holds that instance's
    spikes (equal to its full stored sample, float32, no tolerance)."""
    spec = _two_labels()
    spec["output"]["sonata_spikes"] = {"instances": [3], "per_label": 1}
    db = ns.open(_build(binary, tmp_path, spec, "lab"))
    labels, _ = _labels(db)
    chosen = db.sonata_instances()
    assert 3 in chosen
    # the rule chose, besides the explicit 3 (excluded from its choice), one instance of each label
    rule = [i for i in chosen if i != 3]
    for lab in set(labels):
        others = [i for i in range(len(labels)) if labels[i] == lab and i != 3]
        assert sum(1 for i in rule if labels[i] == lab) == min(1, len(others)), (lab, chosen, labels)
    assert len(set(labels)) >= 2, labels  # the rule had a choice to make
    files = sorted(p.name for p in (tmp_path / "lab.h5.sonata").iterdir())
    assert files == sorted(["chosen.json"] + [f"instance_{i}.h5" for i in chosen])
    for i in chosen:
        f = db.sonata_spikes(i)
        for pop in ("E", "I"):
            ids, t = f[pop]
            for k in range(3):
                assert np.array_equal(t[ids == k].astype(np.float32), db.spikes(i, cell=f"{pop}:{k}")), (i, pop, k)

    spec["output"]["sonata_spikes"] = {"where": "g > 4"}
    db = ns.open(_build(binary, tmp_path, spec, "where"))
    _, df = _labels(db)
    want = [i for i in range(len(df)) if df["g"].iloc[i] > 4]
    assert db.sonata_instances() == want and len(want) == 2


def test_chosen_files_after_resume_equal_one_shot(binary, tmp_path):
    """A predicate build stopped before its SONATA pass and resumed chooses the same instances and
    writes the same files; a fresh build over an older one removes the older build's chosen files."""
    spec = _two_labels()
    spec["output"]["sonata_spikes"] = {"per_label": 1}
    one = ns.open(_build(binary, tmp_path, spec, "one"))
    d = tmp_path / "two.h5.sonata"
    d.mkdir()
    (d / "chosen.json").write_text('{"instances": [0, 1, 2, 3]}')
    for i in range(4):
        (d / f"instance_{i}.h5").write_bytes(b"stale")
    p = tmp_path / "two.json"
    p.write_text(json.dumps(spec))
    r = run_cli(binary, "run", str(p), "-o", str(tmp_path / "two.h5"), "--chunk", "1", "--stop-after-chunks", "2",
                "-q", check=False)
    assert r.returncode == 0, r.stderr
    assert sorted(x.name for x in d.iterdir()) == []  # the older build's choice and files are gone
    run_cli(binary, "run", str(p), "-o", str(tmp_path / "two.h5"), "--resume", "-q")
    two = ns.open(tmp_path / "two.h5")
    assert two.sonata_instances() == one.sonata_instances() and len(one.sonata_instances()) == 2
    for i in one.sonata_instances():
        a, b = _read(one.sonata_spikes_path(i)), _read(two.sonata_spikes_path(i))
        for pop in ("E", "I"):
            assert np.array_equal(a[pop][0], b[pop][0]) and np.array_equal(a[pop][1], b[pop][1])


@pytest.mark.parametrize("sel, extra, msg", [
    ({"where": "bogus > 1"}, (), r"output\.sonata_spikes\.where.*bogus"),
    ({"per_label": 0}, (), r"output\.sonata_spikes\.per_label"),
    ({"per_label": 1, "max": 3}, (), r"output\.sonata_spikes\.max"),
    ({"per_label": 1}, ("--shard", "1/2"), r"output\.sonata_spikes.*--shard"),
])
def test_bad_predicates_name_key_and_value(binary, tmp_path, sel, extra, msg):
    spec = copy.deepcopy(SPEC)
    spec["output"]["sonata_spikes"] = sel
    p = tmp_path / "bad.json"
    p.write_text(json.dumps(spec))
    r = run_cli(binary, "run", str(p), "-o", str(tmp_path / "bad.h5"), "-q", *extra, check=False)
    assert r.returncode != 0
    assert __import__("re").search(msg, r.stderr), r.stderr
    assert not (tmp_path / "bad.h5").exists() and not (tmp_path / "bad.h5.sonata").exists()
