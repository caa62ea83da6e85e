#!/usr/bin/env python3
"""A small BMTK PointNet network, built as a PointNet user builds one (bmtk.builder.NetworkBuilder,
SONATA files, dynamics_params JSONs, a virtual input population whose spike trains are written by
bmtk.utils.reports.spike_trains.PoissonSpikeGenerator, a config.json for bmtk.simulator.pointnet).

Used by make_pointnet_nest.py (the NEST 3.10 reference, run through BMTK) and by
python/tests/test_pointnet.py (the same network run by neurosweep). Everything random is drawn from
NumPy's legacy global generator seeded here, so the files are the same in any environment with
bmtk 1.2.0; `digest(root)` fingerprints them (the reference records it, the test compares).

    cortex  E: 160 x nest:iaf_psc_alpha (E.json), I: 40 x nest:iaf_psc_alpha (I.json)
    inputs  100 virtual nodes, Poisson 20 Hz for 1 s (PoissonSpikeGenerator, seed 7)
    edges   E -> E/I: connection_rule random nsyns in {0, 1, 2} (binomial(2, 0.05)), syn_weight
            40 pA (x nsyns in PointNet), delay 1.5 ms;
            I -> E/I: pairs with probability 0.2, per-edge syn_weight uniform in [-160, -80] pA
            (an edge dataset), delay 1.0 ms;
            inputs -> E/I: each target 20 distinct random sources, syn_weight 100 pA, per-edge delay
            uniform in [1, 3] ms (an edge dataset; NEST rounds it to the 0.1 ms grid)
    run     tstop 1000 ms, dt 0.1 ms
"""
import hashlib
import json
import os
import sys

import numpy as np

E_PARAMS = {"C_m": 250.0, "tau_m": 20.0, "t_ref": 2.0, "E_L": -70.0, "V_reset": -70.0, "V_th": -55.0,
            "tau_syn_ex": 2.0, "tau_syn_in": 2.0, "I_e": 0.0, "V_m": -70.0}
I_PARAMS = {"C_m": 100.0, "tau_m": 10.0, "t_ref": 1.0, "E_L": -70.0, "V_reset": -70.0, "V_th": -55.0,
            "tau_syn_ex": 2.0, "tau_syn_in": 2.0}
TSTOP, DT = 1000.0, 0.1


def build(root):
    from bmtk.builder import NetworkBuilder
    from bmtk.utils.reports.spike_trains import PoissonSpikeGenerator
    root = os.path.abspath(str(root))
    np.random.seed(1)
    net = NetworkBuilder("cortex")
    net.add_nodes(N=160, pop_name="E", ei="e", model_type="point_neuron", model_template="nest:iaf_psc_alpha",
                  dynamics_params="E.json")
    net.add_nodes(N=40, pop_name="I", ei="i", model_type="point_neuron", model_template="nest:iaf_psc_alpha",
                  dynamics_params="I.json")
    net.add_edges(source={"ei": "e"}, target=net.nodes(), connection_rule=lambda s, t: int(np.random.binomial(2, 0.05)),
                  syn_weight=40.0, delay=1.5, dynamics_params="e2x.json", model_template="static_synapse")
    cm = net.add_edges(source={"ei": "i"}, target=net.nodes(),
                       connection_rule=lambda s, t: 1 if np.random.uniform() < 0.2 else 0,
                       delay=1.0, dynamics_params="i2x.json", model_template="static_synapse")
    cm.add_properties("syn_weight", rule=lambda s, t: float(np.random.uniform(-160.0, -80.0)), dtypes=float)
    net.build()
    net.save(output_dir=os.path.join(root, "network"))

    inp = NetworkBuilder("inputs")
    inp.add_nodes(N=100, pop_name="poisson", model_type="virtual")

    def twenty_sources(sources, target):
        chosen = set(np.random.choice(len(sources), 20, replace=False).tolist())
        return [1 if k in chosen else 0 for k in range(len(sources))]

    cm = inp.add_edges(source=inp.nodes(), target=net.nodes(), connection_rule=twenty_sources, iterator="all_to_one",
                       syn_weight=100.0, dynamics_params="in2x.json", model_template="static_synapse")
    cm.add_properties("delay", rule=lambda s, t: float(np.random.uniform(1.0, 3.0)), dtypes=float)
    inp.build()
    inp.save(output_dir=os.path.join(root, "network"))

    os.makedirs(os.path.join(root, "inputs"), exist_ok=True)
    psg = PoissonSpikeGenerator(population="inputs", seed=7)
    psg.add(node_ids=list(range(100)), firing_rate=20.0, times=(0.0, TSTOP / 1000.0))
    psg.to_sonata(os.path.join(root, "inputs", "poisson.h5"))

    cells = os.path.join(root, "components", "cell_models")
    syns = os.path.join(root, "components", "synaptic_models")
    os.makedirs(cells, exist_ok=True)
    os.makedirs(syns, exist_ok=True)
    for name, p in (("E.json", E_PARAMS), ("I.json", I_PARAMS)):
        with open(os.path.join(cells, name), "w") as f:
            json.dump(p, f, indent=1)
    for name in ("e2x.json", "i2x.json", "in2x.json"):
        with open(os.path.join(syns, name), "w") as f:
            f.write("{}\n")
    config = {
        "manifest": {"$BASE_DIR": "${configdir}", "$NETWORK_DIR": "$BASE_DIR/network",
                     "$COMPONENTS_DIR": "$BASE_DIR/components", "$OUTPUT_DIR": "$BASE_DIR/output",
                     "$INPUT_DIR": "$BASE_DIR/inputs"},
        "run": {"tstop": TSTOP, "dt": DT},
        "target_simulator": "NEST",
        "inputs": {"poisson_spikes": {"input_type": "spikes", "module": "sonata",
                                      "input_file": "$INPUT_DIR/poisson.h5", "node_set": "inputs"}},
        "output": {"log_file": "log.txt", "spikes_file": "spikes.h5", "output_dir": "$OUTPUT_DIR",
                   "overwrite_output_dir": True, "quiet_simulator": True},
        "components": {"point_neuron_models_dir": "$COMPONENTS_DIR/cell_models",
                       "synaptic_models_dir": "$COMPONENTS_DIR/synaptic_models"},
        "networks": {
            "nodes": [{"nodes_file": "$NETWORK_DIR/cortex_nodes.h5", "node_types_file": "$NETWORK_DIR/cortex_node_types.csv"},
                      {"nodes_file": "$NETWORK_DIR/inputs_nodes.h5", "node_types_file": "$NETWORK_DIR/inputs_node_types.csv"}],
            "edges": [{"edges_file": "$NETWORK_DIR/cortex_cortex_edges.h5", "edge_types_file": "$NETWORK_DIR/cortex_cortex_edge_types.csv"},
                      {"edges_file": "$NETWORK_DIR/inputs_cortex_edges.h5", "edge_types_file": "$NETWORK_DIR/inputs_cortex_edge_types.csv"}],
        },
    }
    with open(os.path.join(root, "config.json"), "w") as f:
        json.dump(config, f, indent=1)
    return os.path.join(root, "config.json")


def digest(root):
    """SHA-256 over the edge arrays (source, target, type, per-edge datasets), the node types and
    the input spikes: equal digests mean the same network and the same input."""
    import h5py
    h = hashlib.sha256()
    for name in ("cortex_cortex_edges.h5", "inputs_cortex_edges.h5", "cortex_nodes.h5", "inputs_nodes.h5"):
        with h5py.File(os.path.join(root, "network", name), "r") as f:
            def visit(path, obj):
                if isinstance(obj, h5py.Dataset):
                    h.update(path.encode())
                    h.update(np.ascontiguousarray(obj[()]).tobytes())
            f.visititems(visit)
    with h5py.File(os.path.join(root, "inputs", "poisson.h5"), "r") as f:
        g = f["spikes"]["inputs"]
        h.update(np.asarray(g["node_ids"][()], dtype=np.int64).tobytes())
        h.update(np.asarray(g["timestamps"][()], dtype=np.float64).tobytes())
    return h.hexdigest()


if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else "pointnet_ei"
    print(build(out))
    print(digest(out))
