"""BMTK PointNet networks run by neurosweep (python/neurosweep/pointnet.py, docs/NETWORKS.md "BMTK
PointNet networks"), checked against NEST 3.10 run through BMTK PointNet.

- the converter: a PointNet network built with bmtk's NetworkBuilder (tests/data/pointnet/build_ei.py:
  200 iaf_psc_alpha cells in two node types, nsyns, per-edge weights and delays, a virtual input
  population with PoissonSpikeGenerator trains) -> spec + edge/input HDF5, every edge checked
  against the SONATA files (PointNet's weight = syn_weight x nsyns);
- spike sources: the grid stamps of off-grid input times equal NEST's spike_generator with
  precise_times (BMTK's setting; tests/data/spike_source_nest.json);
- the whole network against BMTK + NEST (tests/data/pointnet_ei_nest.json, made by
  tests/data/make_pointnet_nest.py): rates, CVs and spike times;
- refusals naming file, key and value.
"""
import json
import os
import shutil
import sys

import numpy as np
import pytest

from conftest import REPO, run_cli

pytest.importorskip("bmtk.builder", reason="bmtk (scripts/requirements)")
h5py = pytest.importorskip("h5py")

from neurosweep import pointnet  # noqa: E402

DATA = os.path.join(REPO, "tests", "data")
sys.path.insert(0, os.path.join(DATA, "pointnet"))
import build_ei  # noqa: E402


@pytest.fixture(scope="module")
def ei(tmp_path_factory):
    root = tmp_path_factory.mktemp("pointnet_ei")
    cfg = build_ei.build(root)
    return root, cfg


@pytest.fixture(scope="module")
def reference():
    with open(os.path.join(DATA, "pointnet_ei_nest.json")) as f:
        return json.load(f)


def _sonata_edges(path):
    with h5py.File(path, "r") as f:
        g = f["edges"][list(f["edges"])[0]]
        out = {k: g[k][()] for k in ("source_node_id", "target_node_id", "edge_type_id", "edge_group_id",
                                     "edge_group_index")}
        out["groups"] = {int(k): {a: g[k][a][()] for a in g[k]} for k in g if k.isdigit()}
    return out


def test_same_network_as_the_reference(ei, reference):
    root, _ = ei
    assert build_ei.digest(root) == reference["digest"], \
        "NetworkBuilder/PoissonSpikeGenerator built other files than the reference's (bmtk or NumPy changed?)"


def test_converter_edges_and_inputs_equal_the_sonata_files(ei, tmp_path):
    root, cfg = ei
    spec = pointnet.write_spec(cfg, tmp_path / "ei.json")
    net = spec["network"]
    pops = {p["name"]: p for p in net["populations"]}
    assert set(pops) == {"E", "I", "poisson"}
    assert pops["E"]["model"] == "iaf_psc_alpha" and pops["E"]["size"] == 160
    assert pops["I"]["size"] == 40 and pops["I"]["params"] == build_ei.I_PARAMS
    assert pops["E"]["params"] == build_ei.E_PARAMS
    assert pops["poisson"]["size"] == 100 and pops["poisson"]["spike_times"] == {
        "file": "ei.pointnet.h5", "group": "/inputs/poisson"}
    assert spec["dt"] == "0.1 ms" and spec["analysis"] == "1000 ms" and spec["transient"] == "0 ms"
    projs = {(p["source"], p["target"]): p for p in net["projections"]}
    assert set(projs) == {(s, t) for s in ("E", "I", "poisson") for t in ("E", "I")}
    for p in projs.values():
        assert p["rule"] == "explicit" and p["file"] == "ei.pointnet.h5" and p["weight_scale"] == 1
    assert projs[("E", "E")]["delay"] == 1.5 and projs[("I", "E")]["delay"] == 1.0
    assert projs[("poisson", "E")]["weight"] == 100.0
    # every SONATA edge, PointNet-wise: weight = syn_weight x nsyns, delay from the edge or its type
    cc = _sonata_edges(root / "network" / "cortex_cortex_edges.h5")
    ic = _sonata_edges(root / "network" / "inputs_cortex_edges.h5")
    with h5py.File(tmp_path / "ei.pointnet.h5", "r") as f:
        got = {}
        for name, g in f["projections"].items():
            s, t = name.split("->")
            for k in range(len(g["source"])):
                w = g["weight"][k] if "weight" in g else projs[(s, t)]["weight"]
                d = g["delay"][k] if "delay" in g else projs[(s, t)]["delay"]
                got.setdefault((s, int(g["source"][k]), t, int(g["target"][k])), []).append((w, d))
        inputs = (f["inputs"]["poisson"]["index"][()], f["inputs"]["poisson"]["time"][()])
    want = {}
    name = {n: ("E" if n < 160 else "I") for n in range(200)}
    local = {n: (n if n < 160 else n - 160) for n in range(200)}
    for e in range(len(cc["source_node_id"])):
        s, t, typ = int(cc["source_node_id"][e]), int(cc["target_node_id"][e]), int(cc["edge_type_id"][e])
        grp = cc["groups"][int(cc["edge_group_id"][e])]
        gi = int(cc["edge_group_index"][e])
        if typ == 100:  # E: syn_weight 40 pA in the edge-type CSV, nsyns per edge, delay 1.5
            w, d = 40.0 * float(grp["nsyns"][gi]), 1.5
        else:           # I: syn_weight per edge, delay 1.0
            w, d = float(grp["syn_weight"][gi]), 1.0
        want.setdefault((name[s], local[s], name[t], local[t]), []).append((w, d))
    for e in range(len(ic["source_node_id"])):
        s, t = int(ic["source_node_id"][e]), int(ic["target_node_id"][e])
        grp = ic["groups"][int(ic["edge_group_id"][e])]
        want.setdefault(("poisson", s, name[t], local[t]), []).append(
            (100.0, float(grp["delay"][int(ic["edge_group_index"][e])])))
    assert len(got) == len(want) and sum(map(len, got.values())) == len(cc["source_node_id"]) + len(ic["source_node_id"])
    for k, v in want.items():
        assert sorted((float(w), float(d)) for w, d in got[k]) == sorted(v), k  # bit for bit
    nsyns2 = [v for k, v in want.items() if k[0] == "E" and v[0][0] == 80.0]
    assert len(nsyns2) > 20  # nsyns = 2 edges exist and got 2 x 40 pA
    with h5py.File(root / "inputs" / "poisson.h5", "r") as f:
        ids, ts = f["spikes"]["inputs"]["node_ids"][()], f["spikes"]["inputs"]["timestamps"][()]
    assert sorted(zip(inputs[0].tolist(), inputs[1].tolist())) == sorted(zip(ids.tolist(), ts.tolist()))
    mapping = json.loads((tmp_path / "ei.json.pointnet.json").read_text())["populations"]
    assert mapping["I"] == {"population": "cortex", "node_type_id": 101, "node_ids": list(range(160, 200)),
                            "virtual": False}
    assert mapping["poisson"]["virtual"] is True


def test_spike_sources_act_at_nests_grid_stamps(tmp_path, binary):
    with open(os.path.join(DATA, "spike_source_nest.json")) as f:
        ref = json.load(f)
    idx, t = [], []
    for k, times in enumerate(ref["input_times_ms"]):
        idx += [k] * len(times)
        t += times
    with h5py.File(tmp_path / "in.h5", "w") as f:
        f["index"], f["time"] = np.array(idx[::-1]), np.array(t[::-1])  # any order
    n = len(ref["input_times_ms"])
    spec = {"model": "network", "dt": "0.1 ms", "transient": "0 ms", "analysis": "100 ms", "precision": "double",
            "network": {"populations": [
                {"name": "src", "spike_times": {"file": "in.h5"}, "size": n, "sample": n},
                {"name": "nrn", "model": "iaf_psc_delta", "size": n, "sample": n}],
                "projections": [{"source": "src", "target": "nrn", "rule": "one_to_one", "weight": 20.0, "delay": 1.0}]},
            "output": {"spikes": 10, "rate_bin": "1 ms"}}
    (tmp_path / "s.json").write_text(json.dumps(spec))
    run_cli(binary, "run", str(tmp_path / "s.json"), "-o", str(tmp_path / "s.h5"), "--threads", "1", "-q")
    import neurosweep as ns
    db = ns.open(str(tmp_path / "s.h5"))
    got = sorted([k, round(float(x), 4)] for k in range(n) for x in db.spikes(0, f"nrn:{k}"))
    assert got == [[k, pytest.approx(x, abs=1e-4)] for k, x in ref["spikes"]]
    src = sorted(round(float(x), 4) for k in range(n) for x in db.spikes(0, f"src:{k}"))
    assert src == pytest.approx(sorted(x - 1.0 for _, x in ref["spikes"]), abs=1e-4)  # the stamps themselves


def _refused(tmp_path, ei_root, edit, match, binary=None):
    root = tmp_path / "net"
    shutil.copytree(ei_root, root)
    edit(root)
    with pytest.raises(pointnet.PointNetError, match=match):
        pointnet.read_pointnet(root / "config.json", binary)


def _replace(path, old, new):
    path.write_text(path.read_text().replace(old, new))


def _set_csv(path, id_column, type_id, column, value):
    """Sets one cell of a BMTK types CSV (space separated; column order depends on the pandas
    version that wrote it)."""
    import pandas as pd
    df = pd.read_csv(path, sep=" ", keep_default_na=False, dtype=str)
    df.loc[df[id_column] == str(type_id), column] = value
    df.to_csv(path, sep=" ", index=False)


def test_refusals_name_file_key_and_value(ei, tmp_path, binary):
    root, _ = ei
    _refused(tmp_path / "a", root, lambda r: _set_csv(r / "network" / "cortex_node_types.csv", "node_type_id", 100,
                                                         "model_template", "nest:custom_izh_neuron_nestml"),
             r"cortex_node_types.csv: node_type_id 100 \(population cortex\): model_template = "
             r"'nest:custom_izh_neuron_nestml': .*NESTML", binary)
    _refused(tmp_path / "b", root, lambda r: _set_csv(r / "network" / "cortex_node_types.csv", "node_type_id", 101,
                                                         "model_template", "iaf_psc_alpha"),
             r"node_type_id 101 .*model_template = 'iaf_psc_alpha': expected 'nest:<model>'")
    _refused(tmp_path / "c", root, lambda r: (r / "components" / "cell_models" / "E.json").write_text('{"tau_m": 20, "g_L": 3}'),
             r"E.json: g_L = 3: not a parameter of iaf_psc_alpha", binary)
    _refused(tmp_path / "d", root, lambda r: _set_csv(r / "network" / "cortex_cortex_edge_types.csv", "edge_type_id", 100,
                                                         "model_template", "tsodyks2_synapse"),
             r"cortex_cortex_edge_types.csv: edge_type_id 100: model_template = 'tsodyks2_synapse'")
    _refused(tmp_path / "e", root, lambda r: (r / "components" / "synaptic_models" / "e2x.json").write_text('{"U": 0.5}'),
             r"e2x.json: U = 0.5: neurosweep's static synapses")
    _refused(tmp_path / "f", root, lambda r: _replace(r / "config.json", '"input_type": "spikes"', '"input_type": "current_clamp"'),
             r"config.json: inputs.poisson_spikes.input_type = 'current_clamp'")

    def negative_time(r):
        with h5py.File(r / "inputs" / "poisson.h5", "r+") as f:
            f["spikes"]["inputs"]["timestamps"][0] = -1.0
    _refused(tmp_path / "g", root, negative_time, r"poisson.h5: spike time -1.0 ms of node \d+: expected > 0 ms")


def test_spike_source_file_errors_name_file_and_dataset(tmp_path, binary):
    with h5py.File(tmp_path / "in.h5", "w") as f:
        f["index"], f["time"] = np.array([0, 3]), np.array([1.0, 2.0])
    spec = {"model": "network", "dt": "0.1 ms", "transient": "0 ms", "analysis": "10 ms",
            "network": {"populations": [{"name": "src", "spike_times": {"file": "in.h5"}, "size": 3},
                                        {"name": "n", "model": "iaf_psc_delta", "size": 3}],
                        "projections": [{"source": "src", "target": "n", "rule": "all_to_all", "weight": 1, "delay": 1}]}}
    (tmp_path / "s.json").write_text(json.dumps(spec))
    p = run_cli(binary, "run", str(tmp_path / "s.json"), "-o", str(tmp_path / "s.h5"), "-q", check=False)
    assert p.returncode != 0 and "src.size = 3" in p.stderr and "in.h5:/index holds neuron 3" in p.stderr
    with h5py.File(tmp_path / "in.h5", "w") as f:
        f["index"], f["time"] = np.array([0, 1]), np.array([1.0, 0.0])
    p = run_cli(binary, "run", str(tmp_path / "s.json"), "-o", str(tmp_path / "s.h5"), "-q", check=False)
    assert p.returncode != 0 and "network.populations[0].spike_times" in p.stderr and "time[1] = 0" in p.stderr
    with h5py.File(tmp_path / "in.h5", "w") as f:
        f["index"], f["time"] = np.array([0, 1]), np.array([1.0, 2.0])
    spec["network"]["projections"][0].update(source="n", target="src")
    (tmp_path / "s.json").write_text(json.dumps(spec))
    p = run_cli(binary, "run", str(tmp_path / "s.json"), "-o", str(tmp_path / "s.h5"), "-q", check=False)
    assert p.returncode != 0 and "network.projections[0].target" in p.stderr and "spike source" in p.stderr


def _spikes_of(db, pop, n):
    return {k: np.asarray(db.spikes(0, f"{pop}:{k}"), dtype=float) for k in range(n)}


def test_network_against_bmtk_and_nest(ei, reference, tmp_path, binary):
    """The whole PointNet network, neurosweep vs BMTK PointNet + NEST 3.10: the same edges, the same
    input trains (replayed at NEST's stamps), iaf_psc_alpha with NEST's exact propagators, so the
    comparison is spike for spike: every spike train of the 200 cells equal (2191 spikes; float32
    storage of the times: 1e-4 ms), hence rates and CVs equal to the float32 column's rounding.
    Measured: 160/160 E and 40/40 I trains equal, in double and in float precision. The second
    instance of the sweep (input->E weight_scale 0.5) must fire less."""
    _, cfg = ei
    pointnet.write_spec(cfg, tmp_path / "ei.json",
                        axes=[{"kind": "list", "param": "poisson->E.weight_scale", "values": [1.0, 0.5]}])
    run_cli(binary, "run", str(tmp_path / "ei.json"), "-o", str(tmp_path / "ei.h5"), "--threads", "2", "-q",
            "--backend", "cpu")
    import neurosweep as ns
    db = ns.open(str(tmp_path / "ei.h5"))
    df = db.to_pandas()
    n = {"E": 160, "I": 40}
    for pop in ("E", "I"):
        assert df[f"{pop}.rate_hz"].iloc[0] == pytest.approx(reference["rate_hz"][pop], rel=1e-6)
        assert df[f"{pop}.cv_isi"].iloc[0] == pytest.approx(reference["cv_isi"][pop], abs=1e-6)
        ours = _spikes_of(db, pop, n[pop])
        theirs = {k: [] for k in range(n[pop])}
        for k, t in reference["spikes"][pop]:
            theirs[k].append(t)
        differ = [k for k in range(n[pop]) if len(ours[k]) != len(theirs[k])
                  or not np.allclose(ours[k], theirs[k], rtol=0, atol=1e-4)]
        assert differ == [], f"{pop}: spike trains of cells {differ[:10]} differ from NEST's"
    assert df["poisson.rate_hz"].iloc[0] == pytest.approx(reference["input_rate_hz"], rel=1e-6)
    assert df["poisson->E.weight_scale"].tolist() == [1.0, 0.5]
    assert df["E.rate_hz"].iloc[1] < 0.5 * df["E.rate_hz"].iloc[0]


def test_command_line(ei, tmp_path, binary, capsys):
    """`python -m neurosweep pointnet CONFIG_DIR -o SPEC --axis ... --fixed ...` (pointnet.main)."""
    root, _ = ei
    rc = pointnet.main([str(root), "-o", str(tmp_path / "c.json"), "--binary", binary,
                        "--axis", '{"kind": "list", "param": "E.tau_m", "values": [15, 20]}', "--fixed", "I.t_ref=2"])
    assert rc == 0 and "3 populations (300 neurons), 6 projections" in capsys.readouterr().out
    spec = json.loads((tmp_path / "c.json").read_text())
    assert spec["axes"] == [{"kind": "list", "param": "E.tau_m", "values": [15, 20]}]
    assert spec["fixed"] == {"I.t_ref": 2.0}
    assert (tmp_path / "c.pointnet.h5").is_file()
    assert pointnet.main([str(tmp_path / "missing.json"), "-o", str(tmp_path / "x.json")]) == 1
    assert "missing.json: cannot read the BMTK config" in capsys.readouterr().err


def test_bmtk_spikes_carry_sonata_node_ids(ei, reference, tmp_path, binary):
    """pointnet.bmtk_spikes: the SONATA spike file of an instance rewritten with BMTK's node ids and
    node population, as BMTK PointNet writes output/spikes.h5. Checked against the NEST reference
    (BMTK's own spikes.h5, stored as (index within the node type, time)), with the node ids taken
    here independently from the SONATA nodes file (node_type_id 100 = E, 101 = I): every spike's
    (node id, time) equal to 1e-4 ms (float32 times), 2,191 spikes; the virtual input population
    is left out as in BMTK's file; BMTK's SpikeTrains reads the written file."""
    root, cfg = ei
    pointnet.write_spec(cfg, tmp_path / "ei.json")
    spec = json.loads((tmp_path / "ei.json").read_text())
    spec.setdefault("output", {})["sonata_spikes"] = {"instances": [0]}
    (tmp_path / "ei.json").write_text(json.dumps(spec))
    run_cli(binary, "run", str(tmp_path / "ei.json"), "-o", str(tmp_path / "ei.h5"), "-q", "--backend", "cpu")
    got = pointnet.bmtk_spikes(str(tmp_path / "ei.h5"), 0, tmp_path / "ei.json.pointnet.json",
                               out=tmp_path / "spikes.h5")
    assert list(got) == ["cortex"]
    with h5py.File(os.path.join(root, "network", "cortex_nodes.h5"), "r") as f:
        types = f["nodes"]["cortex"]["node_type_id"][()]
        node_id = f["nodes"]["cortex"]["node_id"][()]
    want = []
    for pop, tid in (("E", 100), ("I", 101)):
        members = np.sort(node_id[types == tid])
        want += [(int(members[k]), t) for k, t in reference["spikes"][pop]]
    want.sort(key=lambda x: (x[1], x[0]))
    ids, ts = got["cortex"]
    assert len(ids) == len(want) == 2191
    assert np.all(np.diff(ts) >= 0)
    assert np.allclose(ts, [w[1] for w in want], rtol=0, atol=1e-4)
    # the same spikes per node id, whatever the order of equal times
    mine = sorted(zip([int(i) for i in ids], np.round(ts, 4)))
    theirs = sorted((i, round(t, 4)) for i, t in want)
    assert mine == theirs
    from bmtk.utils.reports.spike_trains import SpikeTrains
    st = SpikeTrains.load(str(tmp_path / "spikes.h5"))
    assert st.populations == ["cortex"]
    nid = int(ids[0])
    assert np.allclose(st.get_times(nid, population="cortex"), ts[ids == nid], rtol=0, atol=1e-9)
    with pytest.raises(pointnet.PointNetError, match="population 'E' is not in"):
        pointnet.bmtk_spikes(str(tmp_path / "ei.h5"), 0, {"populations": {"I": {"population": "cortex",
                                                                                 "node_ids": [0]}}})


def test_bmtk_spikes_command_line(ei, tmp_path, binary, capsys):
    """`python -m neurosweep pointnet-spikes DB I MAPPING -o OUT`: the file bmtk_spikes writes, and
    an instance without a SONATA file refused with the instances that have one."""
    from neurosweep.__main__ import main as ns_main
    _, cfg = ei
    pointnet.write_spec(cfg, tmp_path / "ei.json",
                        axes=[{"kind": "list", "param": "poisson->E.weight_scale", "values": [1.0, 0.5]}])
    spec = json.loads((tmp_path / "ei.json").read_text())
    spec.setdefault("output", {})["sonata_spikes"] = {"instances": [1]}
    (tmp_path / "ei.json").write_text(json.dumps(spec))
    run_cli(binary, "run", str(tmp_path / "ei.json"), "-o", str(tmp_path / "ei.h5"), "-q", "--backend", "cpu")
    mp = str(tmp_path / "ei.json.pointnet.json")
    assert ns_main(["pointnet-spikes", str(tmp_path / "ei.h5"), "1", mp, "-o", str(tmp_path / "s.h5")]) == 0
    n = pointnet.bmtk_spikes(str(tmp_path / "ei.h5"), 1, mp)["cortex"][0].size
    assert f"cortex {n} spikes" in capsys.readouterr().out and n > 0
    with h5py.File(tmp_path / "s.h5", "r") as f:
        assert f["spikes/cortex/node_ids"].shape == (n,) and f["spikes/cortex"].attrs["sorting"] == "by_time"
    assert ns_main(["pointnet-spikes", str(tmp_path / "ei.h5"), "0", mp, "-o", str(tmp_path / "t.h5")]) == 1
    assert "instance 0 has no SONATA spike file" in capsys.readouterr().err
    assert not (tmp_path / "t.h5").exists()
