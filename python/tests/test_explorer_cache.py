"""The explorer's column cache (python/neurosweep/explorer/cache.py): densities of sampled
databases from memory-mapped float32 copies of the columns, binned by a compiled kernel.

Checked against independent computations:
- the per-label counts equal datashader's own Canvas.points(count_cat) on the same float32 values,
  exactly (same scale/translate formula, same edge rule: points on the upper edge of the range go
  into the last pixel, NaN and out-of-range points are dropped), for the full range, a zoom and a
  query selection; the feature means equal datashader's sum/count to 1e-12 relative (the only
  difference allowed: the order of the float64 additions when two threads share the rows);
- against the streamed float64 path (no cache): the same totals per label, and every pixel's
  difference is explained by the points whose float32 value falls into another pixel than their
  float64 value (counted here from the values);
- a rewritten database gets a new cache (the old one removed), an interrupted copy (*.tmp) is not
  used, and an unwritable cache directory falls back to the streamed path with the same result.
The database is written by neurosweep.store.write_table (the layout of `neurosweep run`); the
kernel does not care how the values were computed.
"""
import json
import os

import numpy as np
import pandas as pd
import pytest

ds = pytest.importorskip("datashader")
pytest.importorskip("numba")

import neurosweep as ns  # noqa: E402
from neurosweep.explorer import cache as C  # noqa: E402
from neurosweep.explorer.data import ExplorerData, Selection  # noqa: E402
from neurosweep.store import write_table  # noqa: E402

LABELS = ["silent", "tonic", "bursting"]
N = 60_000


def _write(path, seed=1, n=N):
    rng = np.random.default_rng(seed)
    a = rng.uniform(0.01, 0.1, n)
    ie = rng.uniform(0.0, 15.0, n)
    a[:3] = [0.01, 0.1, 0.055]       # exactly on the range's edges (min, max): kept, last pixel
    ie[:3] = [15.0, 0.0, 7.5]
    lab = rng.integers(-1, 3, n).astype(np.int8)  # -1: unclassified
    rate = np.where(lab > 0, rng.uniform(1, 50, n), np.nan).astype(np.float32)
    cols = [{"name": "index", "dtype": "u8"}, {"name": "a", "dtype": "f8"}, {"name": "I_e", "dtype": "f8", "units": "pA"},
            {"name": "status", "dtype": "u1", "enum_names": ["ok", "nonfinite", "diverged"]},
            {"name": "label", "dtype": "i1", "enum_names": LABELS}, {"name": "rate_hz", "dtype": "f4", "units": "Hz"}]
    data = {"index": np.arange(n, dtype=np.uint64), "a": a, "I_e": ie, "status": np.zeros(n, np.uint8),
            "label": lab, "rate_hz": rate}
    write_table(str(path), cols, data, spec=json.dumps({"model": "izhikevich"}), spec_hash="%016x" % seed,
                attrs={"model": "izhikevich"})
    return a, ie, lab, rate


def _datashader(x, y, lab, x_range, y_range, w=400, h=400):
    names = LABELS + ["unclassified"]
    codes = np.where((lab >= 0) & (lab < len(LABELS)), lab, len(LABELS)).astype(np.int64)
    df = pd.DataFrame({"a": x, "I_e": y, "label": pd.Categorical.from_codes(codes, names)})
    cvs = ds.Canvas(plot_width=w, plot_height=h, x_range=x_range, y_range=y_range)
    return cvs.points(df, "a", "I_e", agg=ds.count_cat("label"))


def test_cached_density_equals_datashader_on_the_same_values(tmp_path):
    a, ie, lab, rate = _write(tmp_path / "r.h5")
    d = ExplorerData(ns.open(tmp_path / "r.h5"), cache_root=str(tmp_path / "cache"))
    assert d.column_cache() is not None
    a32, ie32 = a.astype(np.float32), ie.astype(np.float32)
    agg, xr, yr = d.density("a", "I_e", "label", Selection())
    assert xr == (float(a32.min()), float(a32.max())) and yr == (float(ie32.min()), float(ie32.max()))
    ref = _datashader(a32, ie32, lab, xr, yr)
    assert agg.dims == ref.dims and agg.shape == (400, 400, 4)
    np.testing.assert_array_equal(agg.values, ref.values)
    for k in ref.coords:
        np.testing.assert_array_equal(agg.coords[k].values, ref.coords[k].values)
    assert int(agg.values.sum()) == N  # the edge points are in
    # a zoom and a selection (sorted instance indices)
    zx, zy = (0.03, 0.06), (2.0, 9.0)
    z, _, _ = d.density("a", "I_e", "label", Selection(), 300, 200, zx, zy)
    np.testing.assert_array_equal(z.values, _datashader(a32, ie32, lab, zx, zy, 300, 200).values)
    idx = np.sort(np.random.default_rng(5).choice(N, 7000, replace=False)).astype(np.uint64)
    sel = Selection("test", idx)
    s, _, _ = d.density("a", "I_e", "label", sel, 128, 128, xr, yr)
    np.testing.assert_array_equal(s.values, _datashader(a32[idx], ie32[idx], lab[idx], xr, yr, 128, 128).values)
    # feature mean per pixel = datashader's sum / count of the non-NaN values
    m, _, _ = d.density("a", "I_e", "rate_hz", Selection(), 100, 100, xr, yr)
    cvs = ds.Canvas(plot_width=100, plot_height=100, x_range=xr, y_range=yr)
    r = cvs.points(pd.DataFrame({"a": a32, "I_e": ie32, "v": rate.astype(np.float64)}), "a", "I_e",
                   agg=ds.summary(s=ds.sum("v"), n=ds.count("v")))
    want = (r["s"] / r["n"].where(r["n"] > 0)).values
    np.testing.assert_allclose(m.values, want, rtol=1e-12, equal_nan=True)
    assert np.isfinite(m.values).sum() == (r["n"].values > 0).sum() > 1000
    # label fractions and histograms from the cache = counted from the values
    fr = d.label_fractions(sel)
    want_fr = {n: int(np.sum(lab[idx] == k)) for k, n in enumerate(LABELS)}
    want_fr["unclassified"] = int(np.sum(lab[idx] == -1))
    assert fr == want_fr
    edges, h = d.histograms("rate_hz", Selection())
    assert sum(int(c.sum()) for c in h.values()) == int(np.isfinite(rate).sum())
    # nearest instance to a point (the view's scaled distance)
    k = 1234
    assert d.nearest("a", "I_e", float(a[k]), float(ie[k]), xr, yr, Selection()) == k


def test_cached_and_streamed_paths_differ_only_by_float32_rounding(tmp_path):
    a, ie, lab, _ = _write(tmp_path / "r.h5", seed=2)
    d = ExplorerData(ns.open(tmp_path / "r.h5"), cache_root=str(tmp_path / "cache"))
    xr, yr = (0.02, 0.09), (1.0, 14.0)
    w = h = 400
    cached, _, _ = d.density("a", "I_e", "label", Selection(), w, h, xr, yr)
    streamed, _, _ = d.density_streamed("a", "I_e", "label", Selection(), w, h, xr, yr)
    tc = cached.sum(dim=[cached.dims[0], cached.dims[1]]).values
    ts = streamed.sum(dim=[streamed.dims[0], streamed.dims[1]]).values
    # the points that move: their float32 and float64 values land in different pixels (or one
    # of them outside the range)

    def pix(v, lo, hi, n):
        s = n / (hi - lo)
        p = (v.astype(np.float64) * s + (-lo * s)).astype(np.int64)
        inside = (lo <= v) & (v <= hi)
        return np.where(inside, np.minimum(p, n - 1), -1)
    moved = (pix(a, *xr, w) != pix(a.astype(np.float32), *xr, w)) | (pix(ie, *yr, h) != pix(ie.astype(np.float32), *yr, h))
    diff = np.abs(cached.values.astype(np.int64) - streamed.values.astype(np.int64)).sum()
    assert diff <= 2 * moved.sum()
    assert abs(int(tc.sum()) - int(ts.sum())) <= moved.sum()
    assert moved.sum() < N * 1e-3


def test_cache_files_follow_the_database_and_fall_back(tmp_path):
    p = tmp_path / "r.h5"
    _write(p, seed=3, n=5000)
    root = tmp_path / "cache"
    d = ExplorerData(ns.open(p), cache_root=str(root))
    agg, xr, yr = d.density("a", "I_e", "label", Selection(), 64, 64)
    dirs = os.listdir(root)
    assert len(dirs) == 1 and sorted(os.listdir(root / dirs[0])) == [
        "I_e.f4", "I_e.f4.json", "a.f4", "a.f4.json", "label.i1", "label.i1.json", "source.json"]
    assert os.path.getsize(root / dirs[0] / "a.f4") == 4 * 5000
    # a rewritten database (new size/mtime): a new cache, the old one removed
    os.remove(p)
    _, _, lab2, _ = _write(p, seed=4, n=6000)
    d2 = ExplorerData(ns.open(p), cache_root=str(root))
    agg2, _, _ = d2.density("a", "I_e", "label", Selection(), 64, 64)
    assert int(agg2.values.sum()) == 6000 and os.listdir(root) != dirs and len(os.listdir(root)) == 1
    # an interrupted copy (the .json marker missing): rebuilt, not used
    cdir = root / os.listdir(root)[0]
    os.remove(cdir / "label.i1.json")
    with open(cdir / "label.i1", "r+b") as fh:
        fh.write(b"\x7f" * 100)  # garbage a crash could leave
    d3 = ExplorerData(ns.open(p), cache_root=str(root))
    agg3, _, _ = d3.density("a", "I_e", "label", Selection(), 64, 64)
    np.testing.assert_array_equal(agg3.values, agg2.values)
    # a cache root that cannot be created (below a plain file): the streamed path, same counts
    blocker = tmp_path / "file"
    blocker.write_text("")
    d4 = ExplorerData(ns.open(p), cache_root=str(blocker / "sub"))
    agg4, _, _ = d4.density("a", "I_e", "label", Selection(), 64, 64)
    assert d4.column_cache() is None
    assert int(agg4.values.sum()) == 6000
    assert {n: int(v) for n, v in zip(agg4.label.values, agg4.sum(dim=[agg4.dims[0], agg4.dims[1]]).values)} == {
        n: int(np.sum(np.where((lab2 >= 0) & (lab2 < 3), lab2, 3) == k)) for k, n in enumerate(LABELS + ["unclassified"])}


def test_instance_panel_draws_the_stored_rates(tmp_path):
    """A database with population rates (/rates, docs/FORMAT.md 1.5): a click shows the instance's
    stored series, one line per population, the values Database.rates() reads (written here in
    the documented layout with values from a closed form, as test_rates.py does)."""
    pytest.importorskip("panel")
    import h5py

    from neurosweep.explorer.app import Explorer

    p = tmp_path / "net.h5"
    n, series, nb = 50, ["E", "I"], 20
    rng = np.random.default_rng(0)
    cols = [{"name": "index", "dtype": "u8"}, {"name": "g", "dtype": "f8"}, {"name": "eta", "dtype": "f8"},
            {"name": "status", "dtype": "u1", "enum_names": ["ok", "nonfinite", "diverged"]},
            {"name": "label", "dtype": "i1", "enum_names": ["AI", "SR"]}]
    write_table(str(p), cols, {"index": np.arange(n, dtype=np.uint64), "g": rng.uniform(3, 8, n),
                               "eta": rng.uniform(1, 4, n), "status": np.zeros(n, np.uint8),
                               "label": rng.integers(0, 2, n).astype(np.int8)},
                spec=json.dumps({"model": "net"}), spec_hash="00000000000000aa", attrs={"model": "net"})
    vals = np.array([[100.0 * i + 10.0 * s + 0.5 * b for s in range(2) for b in range(nb)] for i in range(n)],
                    dtype=np.float32)
    with h5py.File(p, "a") as f:
        schema = json.loads(f.attrs["schema"])
        schema["rates"] = {"series": series, "n_bins": nb, "bin_ms": 5.0, "t0_ms": 0.0}
        f.attrs["schema"] = json.dumps(schema)
        d = f.create_dataset("rates/values", data=vals)
        d.attrs.update({"series": json.dumps(series), "n_bins": nb, "bin_ms": 5.0, "t0_ms": 0.0, "units": "Hz"})
    d = ExplorerData(ns.open(p), cache_root=str(tmp_path / "cache"), use_engine=False)
    e = Explorer(d, str(tmp_path))
    assert not e.rfig.visible
    e.show_instance(7)  # the trace fails (no such model to simulate) and says so; the rates are shown
    assert e.rfig.visible and len(e.rfig.renderers) == 2
    src = e.rfig.renderers[0].data_source
    np.testing.assert_array_equal(src.data["t"], 5.0 * np.arange(nb))
    np.testing.assert_array_equal(src.data["s0"], vals[7, :nb])
    np.testing.assert_array_equal(src.data["s1"], vals[7, nb:])
    assert "instance 7" in e.rfig.title.text and "trace:" in e.instance.object
