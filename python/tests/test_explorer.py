"""`neurosweep explore`: the web explorer on a real database built here, driven in headless
Chromium (Debian chromium + chromium-driver, through Selenium), plus its data layer without a
browser. Skipped, with the reason, when panel/bokeh/datashader/selenium or chromium are missing
(CI installs them from scripts/requirements/explorer.{txt,deb}).

What the browser test checks against independent sources:
- the map legend lists exactly the labels of the database (`neurosweep query`),
- a click on a grid cell shows that instance's label and features as `neurosweep query` prints
  them, and its voltage trace re-simulated by `neurosweep simulate` equals the trace the build
  itself stored (/traces, taken by `neurosweep run`'s own trace pass) to float rounding,
- a query typed into the box gives the count and label fractions of `neurosweep query --where`,
- the exported CSV is `neurosweep query --where`'s output byte for byte, the Parquet file has the
  same rows, and the exported sweep spec, run again, reproduces the selected instances' labels.
A screenshot is kept in the test's tmp dir (path printed; copied to $NEUROSWEEP_ARTEFACTS when set).
"""
import io
import json
import os
import shutil
import subprocess
import time

import numpy as np
import pytest

from conftest import run_cli

SPEC = {
    "model": "stg", "dt": "0.05 ms", "transient": "1 s", "analysis": "4 s", "seed": 7,
    "fixed": {"gNa": 100, "gCaT": 2.5, "gA": 50, "gKCa": 5, "gH": 0.01, "gleak": 0},
    "axes": [
        {"kind": "grid", "param": "gCaS", "linspace": {"start": 0, "stop": 10, "count": 5}},
        {"kind": "grid", "param": "gKd", "values": [25, 50, 75, 100, 125, 150, 175]},
    ],
    "classifier": {"slowest_period_ms": 1000},
    # the build's own traces: 0.2 ms is the explorer's sampling of a 4 s window (4000 / 20000)
    "output": {"traces": {"per_label": 1, "every": "0.2 ms"}},
}
WHERE = "gKd >= 75 and label != 'silent'"


@pytest.fixture(scope="module")
def edb(binary, tmp_path_factory):
    d = tmp_path_factory.mktemp("explore")
    spec = d / "grid.json"
    spec.write_text(json.dumps(SPEC))
    db = d / "grid.h5"
    run_cli(binary, "run", str(spec), "-o", str(db), "-q")
    return str(db)


def _rows(binary, db, where=""):
    args = ["query", db, "--format", "json"] + (["--where", where] if where else [])
    return json.loads(run_cli(binary, *args).stdout)


# ---- data layer (no browser) ---------------------------------------------------------------------
def test_data_layer_matches_the_command_line(edb, binary, tmp_path):
    pytest.importorskip("datashader")
    pytest.importorskip("pyarrow")
    import neurosweep as ns
    from neurosweep.explorer import ExplorerData, ExplorerError

    d = ExplorerData(ns.open(edb), binary)
    rows = _rows(binary, edb)
    sel = d.select(WHERE)
    want = [r for r in _rows(binary, edb, WHERE)]
    assert sel.index.tolist() == [r["index"] for r in want]
    counts = {}
    for r in want:
        counts[r["label"]] = counts.get(r["label"], 0) + 1
    assert {k: v for k, v in d.label_fractions(sel).items() if v} == counts
    # the grid slice of the two axes is every instance, at its (gKd, gCaS) position
    ix, iy, index = d.grid_slice("gKd", "gCaS", {})
    assert sorted(index.tolist()) == list(range(35))
    assert all(rows[i]["gKd"] == SPEC["axes"][1]["values"][x] for x, i in zip(ix, index))
    # histograms per label count every finite value once
    edges, h = d.histograms("rate_hz", sel)
    assert sum(int(c.sum()) for c in h.values()) == sum(1 for r in want if r["rate_hz"] is not None)
    # density (datashader, streamed): per-label totals are the label counts
    agg, xr, yr = d.density("gCaS", "gKd", "label", sel, 50, 50)
    tot = agg.sum(dim=[agg.dims[0], agg.dims[1]])
    assert {str(k): int(v) for k, v in zip(tot[agg.dims[2]].values, tot.values) if v} == counts
    with pytest.raises(ExplorerError, match="unknown column 'gFoo'"):
        d.select("gFoo > 1")
    with pytest.raises(ExplorerError, match="no column 'nope'"):
        d.read_rows("nope", np.array([0]))


@pytest.fixture(scope="module")
def rdb(binary, tmp_path_factory):
    """300 Izhikevich neurons, a and I_e drawn at random: a sampled (non-grid) database."""
    d = tmp_path_factory.mktemp("explore_random")
    spec = {"model": "izhikevich", "dt": "0.1 ms", "transient": "100 ms", "analysis": "400 ms", "seed": 3,
            "axes": [{"kind": "random", "params": {"a": {"low": 0.01, "high": 0.1}, "I_e": {"low": 0, "high": 15}},
                      "count": 300}],
            "classifier": {"slowest_period_ms": 100}}
    (d / "r.json").write_text(json.dumps(spec))
    db = str(d / "r.h5")
    run_cli(binary, "run", str(d / "r.json"), "-o", db, "-q")
    return db


def test_export_of_a_sampled_database_reruns(rdb, binary, tmp_path):
    """Random axes: the exported linked-axis spec re-runs the selected instances exactly."""
    pytest.importorskip("datashader")
    pytest.importorskip("pyarrow")
    import pandas as pd

    import neurosweep as ns
    from neurosweep.explorer import ExplorerData

    db = rdb
    d = ExplorerData(ns.open(db), binary)
    assert not d.grid
    sel = d.select("I_e > 7.5")
    paths = d.export(sel, str(tmp_path / "out"))
    want = run_cli(binary, "query", db, "--where", "I_e > 7.5").stdout
    assert open(paths["csv"]).read() == want
    pq = pd.read_parquet(paths["parquet"])
    assert pq["index"].tolist() == sel.index.tolist()
    new = str(tmp_path / "again.h5")
    run_cli(binary, "run", paths["spec"], "-o", new, "-q")
    again = ns.open(new).to_pandas()
    assert len(again) == len(sel.index) > 50
    np.testing.assert_array_equal(again["I_e"].to_numpy(), pq["I_e"].to_numpy())
    np.testing.assert_array_equal(again["a"].to_numpy(), pq["a"].to_numpy())
    assert again["label"].astype(str).tolist() == pq["label"].astype(str).tolist()
    # the density of every row: counts add up to the database
    agg, _, _ = d.density("a", "I_e", "label", d.select(""), 64, 64)
    assert int(agg.values.sum()) == 300


# ---- the browser --------------------------------------------------------------------------------
_DEEP = """
window.__deep = function(sel, root) {
  root = root || document; let out = Array.from(root.querySelectorAll(sel));
  for (const e of root.querySelectorAll('*')) if (e.shadowRoot) out = out.concat(window.__deep(sel, e.shadowRoot));
  return out;
};
window.__view = function(name) {
  function* walk(v) { yield v; if (v.child_views) for (const c of v.child_views) yield* walk(c); }
  for (const root of Object.values(Bokeh.index)) for (const v of walk(root)) if (v.model && v.model.name == name) return v;
  return null;
};
"""


def _chrome():
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not chromium or not driver:
        pytest.skip("headless Chromium not installed (Debian packages chromium and chromium-driver, "
                    "scripts/requirements/explorer.deb)")
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    o = Options()
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--window-size=1500,1250"):
        o.add_argument(a)
    o.binary_location = chromium
    return webdriver.Chrome(service=Service(driver), options=o)


# Explicit waits on the page's state. Under load (CI: 2 busy cores, a load of 15 here) the
# server's first render, a re-simulation or an export can take tens of seconds, so the limits are
# generous (a wait ends as soon as its condition holds, so they cost nothing when all is well).
# NEUROSWEEP_TEST_WAIT scales them.
_WAIT_SCALE = float(os.environ.get("NEUROSWEEP_TEST_WAIT", "1"))


def _wait(d, js, timeout=180.0, what="", args=()):
    timeout *= _WAIT_SCALE
    t0 = time.time()
    while time.time() - t0 < timeout:
        try:
            v = d.execute_script(_DEEP + js, *args)
        except Exception:  # noqa: BLE001 (page still loading)
            v = None
        if v:
            return v
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout} s waiting for {what or js}")


def _act_until(d, act, js, timeout=240.0, retry_s=20.0, what=""):
    """act(), then wait for js to hold; repeat act() every retry_s seconds until timeout. For
    actions a busy page may drop (a click landing while the layout still moves, a key press
    before the widget is connected); each act must be idempotent."""
    timeout *= _WAIT_SCALE
    t0 = time.time()
    while True:
        act()
        left = timeout - (time.time() - t0)
        try:
            return _wait(d, js, timeout=min(retry_s, max(left, 1.0)) / _WAIT_SCALE, what=what)
        except AssertionError:
            if time.time() - t0 >= timeout:
                raise AssertionError(f"timed out after {timeout} s waiting for {what or js} "
                                     f"(the action was repeated every {retry_s} s)")


_MAP_XY = """
    const v = window.__view('ns_map'); if (!v || !v.frame) return null;
    const r = v.el.getBoundingClientRect(); if (!r.width) return null;
    return [r.left + v.frame.x_scale.compute(arguments[0]), r.top + v.frame.y_scale.compute(arguments[1])];"""


def _click_map(d, x, y):
    """Click the map at data coordinates (x, y), read from the map's current layout."""
    from selenium.webdriver.common.actions.action_builder import ActionBuilder

    px, py = _wait(d, _MAP_XY, what="the map's layout", args=(x, y))
    ab = ActionBuilder(d)
    ab.pointer_action.move_to_location(int(round(px)), int(round(py))).click()
    ab.perform()


def test_explorer_in_headless_chromium(edb, binary, tmp_path):
    for m in ("panel", "bokeh", "datashader", "selenium", "pyarrow"):
        pytest.importorskip(m)
    import pandas as pd
    from selenium.webdriver.common.keys import Keys

    import neurosweep as ns
    from neurosweep.explorer.app import serve

    driver = _chrome()
    out = tmp_path / "export"
    th, url = serve(edb, binary=binary, export_dir=str(out), threaded=True)
    try:
        driver.get(url)
        rows = _rows(binary, edb)
        labels = sorted({r["label"] for r in rows})
        assert len(labels) == 5  # the grid shows every label
        # 1. the map and its legend: one item per label of the database (the slice is all of it)
        legend = _wait(driver, """
            const v = window.__view('ns_map'); if (!v) return null;
            const lg = v.model.center.concat(v.model.right).find(m => m.name == 'ns_legend');
            const items = lg.items.map(i => i.label.value);
            return items.length ? items : null;""", what="the map legend")
        assert sorted(legend) == labels
        n_cells = driver.execute_script(_DEEP + "return window.__view('ns_map').model.renderers"
                                                ".find(r => r.name == 'ns_cells').data_source.get_length();")
        assert n_cells == 35
        # page resources come from this server only (offline)
        srcs = driver.execute_script("return Array.from(document.querySelectorAll('script[src],link[href]'))"
                                     ".map(e => e.src || e.href);")
        assert srcs and all(s.startswith(url.rstrip("/")) for s in srcs), srcs

        # 2. click the cell of the bursting instance whose trace the build stored
        db = ns.open(edb)
        stored = db.stored_traces()
        inst = next(i for i in stored if rows[i]["label"] == "bursting")
        gx, gy = inst % 7, inst // 7  # x axis gKd (stride 1), y axis gCaS (stride 7)
        shown = _act_until(driver, lambda: _click_map(driver, gx, gy), """
            const e = window.__deep('.ns-inst')[0]; if (!e) return null;
            const vals = {}; for (const c of window.__deep('.ns-val')) vals[c.dataset.name] = c.textContent;
            return parseInt(e.dataset.instance) == %d ? [parseInt(e.dataset.instance), e.dataset.label, vals] : null;"""
                           % inst, retry_s=60, what="the instance panel of the clicked instance")
        assert shown[0] == inst and shown[1] == "bursting"
        for k, v in shown[2].items():
            want = rows[inst][k]
            if want is None:
                assert v == "nan", k
            else:
                assert float(v) == pytest.approx(float(want), rel=1e-5, abs=1e-12), k
        assert set(shown[2]) >= {"gCaS", "gKd", "burst_period_ms", "rate_hz"}
        trace = _wait(driver, """
            const v = window.__view('ns_trace'); if (!v) return null;
            const r = v.model.renderers.find(r => r.data_source && r.data_source.name == 'ns_trace_data');
            if (!r) return null; const d = r.data_source.data;
            return [Array.from(d.get ? d.get('t') : d['t']), Array.from(d.get ? d.get('V') : d['V'])];""",
                      timeout=300, what="the re-simulated trace")
        ref = db.stored_trace(inst)
        t_ref, v_ref = ref["t"][0], ref["V"][0]
        assert len(trace[0]) == len(t_ref) == 20001
        np.testing.assert_allclose(trace[0], t_ref, rtol=0, atol=1e-9)
        # `neurosweep simulate` and the build's trace pass integrate the same instance with the
        # same settings: equal to float32 rounding of the state (V stored as float in the trace).
        np.testing.assert_allclose(trace[1], v_ref, rtol=0, atol=1e-4)
        assert np.ptp(v_ref) > 30  # a real bursting trace, not a flat line

        # 3. a query typed into the box: count and label fractions as `neurosweep query`
        want = _rows(binary, edb, WHERE)
        box = _wait(driver, "return window.__deep('.ns-query input')[0] || window.__deep('input[type=text]')[0];",
                    what="the query box")
        box.send_keys(WHERE)

        def enter():
            if box.get_attribute("value") != WHERE:  # a re-render replaced the text
                box.clear()
                box.send_keys(WHERE)
            box.send_keys(Keys.ENTER)
        n = _act_until(driver, enter, """const e = window.__deep('.ns-count')[0];
                             return e && e.dataset.count != '35' ? parseInt(e.dataset.count) : null;""",
                       what="the query count")
        assert n == len(want)
        fr = driver.execute_script(_DEEP + "const o = {}; for (const e of window.__deep('.ns-frac'))"
                                           " o[e.dataset.label] = parseInt(e.dataset.count); return o;")
        counts = {}
        for r in want:
            counts[r["label"]] = counts.get(r["label"], 0) + 1
        assert {k: v for k, v in fr.items() if v} == counts

        # 4. export: the CSV is `neurosweep query --where`'s output, byte for byte
        btn = _wait(driver, "return window.__deep('button').find(b => b.textContent.includes('Export selection'));",
                    what="the export button")
        btn.click()
        paths = _wait(driver, """const o = {}; for (const e of window.__deep('.ns-exported')) o[e.dataset.kind] = e.textContent;
                                 return Object.keys(o).length == 3 ? o : null;""", what="the export")
        csv = open(paths["csv"]).read()
        assert csv == run_cli(binary, "query", edb, "--where", WHERE).stdout
        pq = pd.read_parquet(paths["parquet"])
        assert pq["index"].tolist() == [r["index"] for r in want]
        assert pq["label"].astype(str).tolist() == [r["label"] for r in want]
        spec = json.load(open(paths["spec"]))
        assert spec["axes"][0]["kind"] == "linked" and len(spec["axes"][0]["params"]["gKd"]) == len(want)
        again = tmp_path / "again.h5"
        run_cli(binary, "run", paths["spec"], "-o", str(again), "-q")
        assert ns.open(str(again)).to_pandas()["label"].astype(str).tolist() == [r["label"] for r in want]

        # 5. colour by a feature: the colour bar appears, titled with the feature and its units
        driver.execute_script(_DEEP + """
            const sel = Array.from(Bokeh.documents[0].all_models).find(m => m.title == 'Colour by');
            sel.value = 'burst_period_ms';""")
        cbar = _wait(driver, """
            const v = window.__view('ns_map'); const cb = v.model.right.find(m => m.name == 'ns_colorbar');
            return cb && cb.visible ? [cb.title, cb.color_mapper.low, cb.color_mapper.high] : null;""",
                     what="the colour bar")
        fin = [r["burst_period_ms"] for r in rows if r["burst_period_ms"] is not None]
        assert cbar[0] == "burst_period_ms (ms)"
        assert cbar[1] == pytest.approx(min(fin), rel=1e-6) and cbar[2] == pytest.approx(max(fin), rel=1e-6)

        shot = tmp_path / "explorer.png"
        driver.save_screenshot(str(shot))
        print(f"screenshot: {shot}")
        if os.environ.get("NEUROSWEEP_ARTEFACTS"):
            os.makedirs(os.environ["NEUROSWEEP_ARTEFACTS"], exist_ok=True)
            shutil.copy(shot, os.environ["NEUROSWEEP_ARTEFACTS"])
        assert shot.stat().st_size > 10000
    finally:
        driver.quit()
        th.stop()


def test_density_view_of_a_sampled_database(rdb, binary):
    """Random database: a datashader image with the database's labels in its legend; a click picks
    the nearest instance (here an isolated one, so the pixel rounding cannot pick a neighbour)."""
    for m in ("panel", "bokeh", "datashader", "selenium"):
        pytest.importorskip(m)

    from neurosweep.explorer.app import serve

    rows = _rows(binary, rdb)
    a = np.array([r["a"] for r in rows])
    ie = np.array([r["I_e"] for r in rows])
    na, ni = (a - a.min()) / np.ptp(a), (ie - ie.min()) / np.ptp(ie)
    dist = (na[:, None] - na[None, :]) ** 2 + (ni[:, None] - ni[None, :]) ** 2
    np.fill_diagonal(dist, np.inf)
    inside = (na > 0.05) & (na < 0.95) & (ni > 0.05) & (ni < 0.95)
    k = int(np.argmax(np.where(inside, dist.min(axis=1), -1)))
    assert np.sqrt(dist[k].min()) > 0.02  # at least 8 pixels of 400 from any other instance
    driver = _chrome()
    th, url = serve(rdb, binary=binary, threaded=True)
    try:
        driver.get(url)
        img = _wait(driver, """
            const v = window.__view('ns_map'); if (!v) return null;
            const r = v.model.renderers.find(r => r.name == 'ns_density'); if (!r) return null;
            const d = r.data_source.data; const im = (d.get ? d.get('image') : d['image']);
            if (!im || !im.length) return null;
            const lg = v.model.right.find(m => m.name == 'ns_legend');
            return [im[0].length, lg.items.map(i => i.label.value)];""", what="the density image")
        assert img[0] == 400 * 400 or img[0] == 400  # flat RGBA32 buffer or 400 rows
        assert sorted(img[1]) == sorted({r["label"] for r in rows})
        shown = _act_until(driver, lambda: _click_map(driver, float(a[k]), float(ie[k])), """
            const e = window.__deep('.ns-inst')[0]; if (!e) return null;
            const t = window.__view('ns_trace').model.renderers.find(r => r.data_source && r.data_source.name == 'ns_trace_data');
            return t && t.data_source.get_length() ? [parseInt(e.dataset.instance), e.dataset.label, t.data_source.get_length()] : null;""",
                           timeout=300, retry_s=60, what="the instance panel and trace")
        assert shown[0] == rows[k]["index"] and shown[1] == rows[k]["label"]
        assert shown[2] == 4001  # 400 ms at 0.1 ms, both ends
    finally:
        driver.quit()
        th.stop()


def test_cli_explore_prints_its_url_and_serves(edb, binary, tmp_path):
    """`neurosweep explore DB --port P` (the C++ command execs the Python app) answers on P."""
    pytest.importorskip("panel")
    import socket
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, NEUROSWEEP_PYTHON=os.environ.get("NEUROSWEEP_PYTHON", __import__("sys").executable))
    p = subprocess.Popen([binary, "explore", edb, "--port", str(port)], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True, env=env)
    try:
        line = p.stdout.readline()
        assert f"http://127.0.0.1:{port}/" in line, line
        t0 = time.time()
        while True:
            try:
                page = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=30).read().decode()
                break
            except OSError:
                if time.time() - t0 > 30:
                    raise
                time.sleep(0.3)
        assert "bokeh" in page.lower()
    finally:
        p.terminate()
        p.wait(10)
    bad = subprocess.run([binary, "explore", str(tmp_path / "missing.h5")], capture_output=True, text=True, env=env)
    assert bad.returncode != 0 and "missing.h5" in (bad.stderr + bad.stdout)
