"""BMTK PopNet networks as neurosweep sweeps (python/neurosweep/popnet.py).

The network of the PopNet tutorial (shared/seeds/002: two populations built with
bmtk.builder.NetworkBuilder, SONATA files, dynamics_params JSON, a virtual LGN population with a
pop_rates CSV) is built here with bmtk itself, read by popnet.read_popnet, checked key by key
against the tutorial's values in neurosweep's units, run by `neurosweep run` as the base of a sweep
over the E->I weight, and one instance written as PopNet's firing_rates.csv, which bmtk's own
reader (bmtk.analyzer.firing_rates) reads. Steady rates against the DiPDE reference of the same
network (shared/reference/networks-and-populations.md 5.4: E 3.535453 Hz, I 4.154555 Hz).
"""
import json
import os

import numpy as np
import pytest

from conftest import run_cli

bmtk_builder = pytest.importorskip("bmtk.builder", reason="bmtk (scripts/requirements/populations.txt)")

from neurosweep import popnet  # noqa: E402


def build_tutorial(root):
    """The tutorial's network, as its notebook builds it (exc/inh_model.json: pop_2pops values)."""
    from bmtk.builder import NetworkBuilder
    net = NetworkBuilder("V1")
    net.add_nodes(pop_name="excitatory", ei="e", location="VisL4", model_type="population",
                  model_template="dipde:Internal", dynamics_params="exc_model.json")
    net.add_nodes(pop_name="inhibitory", ei="i", model_type="population", model_template="dipde:Internal",
                  dynamics_params="inh_model.json")
    net.add_edges(source={"ei": "e"}, target={"ei": "i"}, syn_weight=0.005, nsyns=20, delay=0.002,
                  dynamics_params="ExcToInh.json")
    net.add_edges(source={"ei": "i"}, target={"ei": "e"}, syn_weight=-0.002, nsyns=10, delay=0.002,
                  dynamics_params="InhToExc.json")
    net.build()
    net.save(output_dir=str(root / "network"))
    lgn = NetworkBuilder("LGN")
    lgn.add_nodes(pop_name="tON", ei="e", model_type="virtual")
    lgn.add_edges(target=net.nodes(ei="e"), syn_weight=0.0025, nsyns=10, delay=0.002,
                  dynamics_params="input_ExcToExc.json")
    lgn.build()
    lgn.save(output_dir=str(root / "network"))
    models = root / "components" / "population_models"
    models.mkdir(parents=True)
    for name, tau in (("exc_model.json", 0.0429), ("inh_model.json", 0.0299)):
        (models / name).write_text(json.dumps({"tau_m": tau, "v_min": -0.05, "v_max": 0.02, "dv": 0.0001,
                                               "update_method": "gmres", "approx_order": None, "record": True}))
    syn = root / "components" / "synaptic_models"
    syn.mkdir(parents=True)
    for name in ("ExcToInh.json", "InhToExc.json", "input_ExcToExc.json"):
        (syn / name).write_text("{}")
    lgn_id = None
    import pandas as pd
    types = pd.read_csv(root / "network" / "LGN_node_types.csv", sep=" ")
    lgn_id = int(types["node_type_id"].iloc[0])
    (root / "lgn_rates.csv").write_text(f"gid firing_rate\n{lgn_id} 15.0\n")
    cfg = {
        "manifest": {"$BASE_DIR": ".", "$NETWORK_DIR": "$BASE_DIR/network",
                     "$COMPONENTS_DIR": "$BASE_DIR/components", "$OUTPUT_DIR": "$BASE_DIR/output"},
        "run": {"tstop": 600.0, "dt": 0.001},
        "inputs": {"LGN_pop_rates": {"input_type": "csv", "module": "pop_rates",
                                     "rates": "${BASE_DIR}/lgn_rates.csv", "node_set": "LGN"}},
        "output": {"output_dir": "$OUTPUT_DIR", "rates_file": "firing_rates.csv"},
        "components": {"population_models_dir": "$COMPONENTS_DIR/population_models",
                       "synaptic_models_dir": "$COMPONENTS_DIR/synaptic_models"},
        "networks": {
            "nodes": [{"nodes_file": "$NETWORK_DIR/V1_nodes.h5", "node_types_file": "$NETWORK_DIR/V1_node_types.csv"},
                      {"nodes_file": "$NETWORK_DIR/LGN_nodes.h5", "node_types_file": "$NETWORK_DIR/LGN_node_types.csv"}],
            "edges": [{"edges_file": "$NETWORK_DIR/V1_V1_edges.h5", "edge_types_file": "$NETWORK_DIR/V1_V1_edge_types.csv"},
                      {"edges_file": "$NETWORK_DIR/LGN_V1_edges.h5", "edge_types_file": "$NETWORK_DIR/LGN_V1_edge_types.csv"}],
        },
    }
    (root / "config.json").write_text(json.dumps(cfg, indent=1))
    return root / "config.json"


def test_reads_the_tutorial_network_in_neurosweep_units(tmp_path):
    spec = popnet.read_popnet(build_tutorial(tmp_path))
    pops = spec["populations"]
    assert set(pops["internal"]) == {"excitatory", "inhibitory"}
    e, i = pops["internal"]["excitatory"], pops["internal"]["inhibitory"]
    assert e["tau_m"] == pytest.approx(42.9) and i["tau_m"] == pytest.approx(29.9)      # s -> ms
    for p in (e, i):
        assert (p["v_min"], p["v_max"], p["dv"]) == pytest.approx((-50.0, 20.0, 0.1))  # V -> mV
    assert pops["external"] == {"tON": {"rate": 15.0}}
    conns = {(c["source"], c["target"]): c for c in pops["connections"]}
    assert set(conns) == {("excitatory", "inhibitory"), ("inhibitory", "excitatory"), ("tON", "excitatory")}
    assert conns[("excitatory", "inhibitory")]["weight"] == pytest.approx(5.0)
    assert conns[("excitatory", "inhibitory")]["nsyns"] == 20
    assert conns[("inhibitory", "excitatory")]["weight"] == pytest.approx(-2.0)
    assert conns[("tON", "excitatory")]["weight"] == pytest.approx(2.5)
    assert all(c["delay"] == pytest.approx(2.0) for c in conns.values())                 # s -> ms
    assert spec["dt"] == "1 ms" and spec["analysis"] == "600 ms"


def test_bad_files_name_the_file_and_key(tmp_path):
    cfg = build_tutorial(tmp_path)
    (tmp_path / "components" / "population_models" / "exc_model.json").write_text(json.dumps({"tau_m": 0.04, "v_reset": 0}))
    with pytest.raises(popnet.PopNetError, match=r"exc_model.json: unknown DiPDE InternalPopulation keys \['v_reset'\]"):
        popnet.read_popnet(cfg)
    build_tutorial(tmp_path / "b")
    (tmp_path / "b" / "lgn_rates.csv").write_text("gid firing_rate\n12345 15.0\n")
    with pytest.raises(popnet.PopNetError, match="lgn_rates.csv: gid = 12345"):
        popnet.read_popnet(tmp_path / "b" / "config.json")


def test_sweep_and_firing_rates_csv(tmp_path, binary):
    cfg = build_tutorial(tmp_path)
    spec_path = tmp_path / "sweep.json"
    spec = popnet.write_spec(cfg, spec_path, axes=[
        {"kind": "list", "param": "excitatory_to_inhibitory.weight", "values": [4.0, 5.0]}])
    ids = json.loads((tmp_path / "sweep.json.popnet.json").read_text())["node_type_id"]
    db = tmp_path / "sweep.h5"
    run_cli(binary, "run", str(spec_path), "-o", str(db), "--threads", "2", "-q", "--backend", "cpu")
    import neurosweep as ns
    d = ns.open(str(db))
    r = d.rates()
    assert list(r.coords["population"].values) == ["excitatory", "inhibitory"]
    # the tutorial itself (weight 5 mV): DiPDE's steady state, 2e-6 relative (reference's digits;
    # float32 storage adds 6e-8)
    last = r.sel(instance=1).values[:, -1]
    assert last == pytest.approx([3.535453, 4.154555], rel=2e-6)
    out = tmp_path / "firing_rates.csv"
    popnet.write_firing_rates(d, 1, out, ids)
    from bmtk.analyzer.firing_rates import convert_rates
    conv = convert_rates(str(out))  # bmtk's own reader of PopNet rates files
    assert set(conv) == set(ids.values())
    import pandas as pd
    df = pd.read_csv(out, sep=" ", names=["id", "times", "rates"])  # plot_rates_popnet's read
    exc = df[df.id == ids["excitatory"]]
    assert exc.times.iloc[0] == 0.0 and exc.times.iloc[-1] == pytest.approx(0.6)
    assert len(exc) == 601
    assert exc.rates.iloc[-1] == pytest.approx(3.535453, rel=2e-6)
