"""A spiking-network database read from Python (docs/NETWORKS.md): per-population rates as an
xarray DataArray (instance x population x time), feature columns, sampled spikes by cell name; the
values checked against each other (the mean of a population's rate series is its rate column, the
sampled neurons' spike counts are bounded by the population's spike count)."""
import json
import os

import numpy as np

import neurosweep as ns
from conftest import run_cli

SPEC = {
    "model": "network", "dt": "0.1 ms", "transient": "20 ms", "analysis": "100 ms", "seed": 3,
    "network": {
        "parameters": {"J": 0.5, "g": 5.0, "eta": 2.0},
        "populations": [
            {"name": "E", "model": "iaf_psc_delta", "size": 200, "sample": 4,
             "params": {"E_L": 0, "V_m": 0, "V_reset": 10, "V_th": 20, "tau_m": 20, "t_ref": 2, "C_m": 1}},
            {"name": "I", "model": "iaf_psc_delta", "size": 50, "sample": 2,
             "params": {"E_L": 0, "V_m": 0, "V_reset": 10, "V_th": 20, "tau_m": 20, "t_ref": 2, "C_m": 1}}],
        "projections": [
            {"source": "E", "target": "E", "rule": "fixed_indegree", "indegree": 20, "weight": "J", "delay": 1.5},
            {"source": "I", "target": "E", "rule": "fixed_indegree", "indegree": 5, "weight": "-g*J", "delay": 1.5}],
        "drives": [{"target": "E", "type": "poisson", "rate": "eta * 2000", "weight": "J"},
                   {"target": "I", "type": "poisson", "rate": "eta * 2000", "weight": "J"}]},
    "axes": [{"kind": "grid", "param": "g", "values": [3.0, 6.0]},
             {"kind": "grid", "param": "eta", "values": [1.0, 2.0, 3.0]}],
    "output": {"spikes": 500, "rate_bin": "2 ms"},
}


def test_network_database_in_python(binary, tmp_path):
    spec = tmp_path / "net.json"
    spec.write_text(json.dumps(SPEC))
    out = tmp_path / "net.h5"
    run_cli(binary, "run", str(spec), "-o", str(out), "--threads", "2", "-q")
    db = ns.open(out)
    assert db.model == "network"
    r = db.rates()
    assert r.dims == ("instance", "population", "time")
    assert r.shape == (6, 2, 50) and list(r.coords["population"].values) == ["E", "I"]
    assert r.attrs["bin_ms"] == 2.0
    df = db.to_pandas()
    for pop in ("E", "I"):
        # the rate column is the mean of the rate series (float32 storage: 1e-4 relative)
        np.testing.assert_allclose(r.sel(population=pop).mean("time").values, df[f"{pop}.rate_hz"].values,
                                   rtol=1e-4, atol=1e-3)
    assert (df["E.rate_hz"].values > 0).all()
    # weaker inhibition, more firing (g is the slowest axis): g = 3 above g = 6 at every eta
    e = df["E.rate_hz"].values.reshape(2, 3)
    assert (e[0] > e[1]).all(), e
    # sampled spikes: 4 E cells and 2 I cells per instance, times inside the analysis window
    assert db.n_spike_cells == 6
    for i in range(6):
        t = db.spikes(i, cell="E:0")
        assert len(t) == 0 or (t.min() > 0 and t.max() <= 100.0 + 1e-6)
