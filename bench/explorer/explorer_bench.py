#!/usr/bin/env python3
"""Responsiveness of `neurosweep explore` on a 1.7-million-instance database (prints figures).

    python bench/explorer/explorer_bench.py [--grid P03.h5] [--sampled S.h5] [--binary build/neurosweep]

--grid: a database of bench/explorer/prinz2003_short.json (the P03 grid, 6^8 = 1,679,616 neurons,
20 + 100 ms: built with `neurosweep run` when the file is absent, about a minute on 2 cores).
--sampled: a random-axis database of the same size (bench/explorer/random_short.json, built
likewise) for the datashader density.

Measured (the explorer runs as its own process, `neurosweep explore DB --port P`; the page is
driven in headless Chromium through Selenium):
- slider move -> redrawn map: from setting another axis' slider in the browser to the map's data
  changing in the browser (server round trip, HDF5 reads, colouring, transfer), 10 moves;
- query -> counts shown; click -> instance panel and re-simulated trace;
- density (sampled database): one server-side aggregation over every row (x, y, label) from the
  column cache (explorer/cache.py) against the streamed path (datashader over HDF5 blocks, the
  explorer before the cache), alternated, wall and CPU seconds, full range and a zoom;
- the server's resident memory (VmRSS now, VmHWM peak) from /proc; for the density, the
  anonymous and file-backed parts of RSS.

    python bench/explorer/explorer_bench.py --density-only out/rows_20m.h5

runs only the density part (out/rows_20m.h5: bench/explorer/make_rows.py, 20 M rows in the run's
layout in a few minutes, instead of `neurosweep run` of random_20m.json, 15-50 min on 2 cores).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "python"))
sys.path.insert(0, os.path.join(REPO, "python", "tests"))


def build(binary, spec, out):
    if not os.path.exists(out):
        t0 = time.time()
        subprocess.run([binary, "run", spec, "-o", out, "-q"], check=True)
        print(f"built {out} in {time.time() - t0:.0f} s")


def mem(pid):
    st = open(f"/proc/{pid}/status").read()
    get = lambda k: int(next(l for l in st.splitlines() if l.startswith(k)).split()[1]) / 1024  # noqa: E731
    return get("VmRSS:"), get("VmHWM:")


def start_server(binary, db):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, NEUROSWEEP_PYTHON=sys.executable)
    p = subprocess.Popen([binary, "explore", db, "--port", str(port)], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True, env=env)
    p.stdout.readline()
    url = f"http://127.0.0.1:{port}/"
    for _ in range(200):
        try:
            urllib.request.urlopen(url, timeout=60).read()
            break
        except OSError:
            time.sleep(0.2)
    return p, url


def bench_grid(binary, db, driver):
    from test_explorer import _DEEP, _wait

    p, url = start_server(binary, db)
    try:
        t0 = time.perf_counter()
        driver.get(url)
        _wait(driver, "const v = window.__view('ns_map'); return v && v.model.renderers.find(r => r.name == 'ns_cells')"
                      ".data_source.get_length() > 0;", timeout=120, what="first map")
        print(f"page load to first map: {time.perf_counter() - t0:.2f} s")
        print(f"server memory after load: RSS {mem(p.pid)[0]:.0f} MiB")
        # slider moves: the Bokeh sliders of the axes not drawn (gNa is the slowest axis: its
        # moves read the most distant rows)
        times = []
        for k in range(10):
            dt = driver.execute_async_script(_DEEP + """
                const done = arguments[arguments.length - 1];
                const k = arguments[0];
                const doc = Bokeh.documents[0];
                const sliders = Array.from(doc.all_models).filter(m => m.type == 'Slider' || (m.constructor && m.constructor.name == 'Slider'));
                const vis = sliders.filter(s => s.visible !== false);
                const s = vis[k % vis.length];
                const src = window.__view('ns_map').model.renderers.find(r => r.name == 'ns_cells').data_source;
                const t0 = performance.now();
                const h = () => { done([performance.now() - t0, vis.length]); };
                src.change.connect(h);
                s.value = (s.value + 1) % (s.end + 1); s.value_throttled = s.value;
            """, k)
            times.append(dt[0] / 1000.0)
        print(f"slider move -> redrawn map ({dt[1]} sliders, 10 moves): median {statistics.median(times):.3f} s, "
              f"max {max(times):.3f} s")
        # query
        box = _wait(driver, "return window.__deep('.ns-query input')[0] || window.__deep('input[type=text]')[0];", what="query box")
        from selenium.webdriver.common.keys import Keys
        t0 = time.perf_counter()
        box.send_keys("label == 'irregular' and gNa > 100")
        box.send_keys(Keys.ENTER)
        n = _wait(driver, "const e = window.__deep('.ns-count')[0]; return e && e.textContent.length && "
                          "e.dataset.count != '1679616' ? e.dataset.count : null;", timeout=300, what="query count")
        print(f"query (label == 'irregular' and gNa > 100, {int(n):,} rows) -> counts, fractions, "
              f"histograms, map: {time.perf_counter() - t0:.2f} s")
        # click the centre cell -> instance panel and re-simulated trace
        old = driver.execute_script(_DEEP + "const e = window.__deep('.ns-inst')[0]; return e ? e.dataset.instance : null;")
        px, py = driver.execute_script(_DEEP + """
            const v = window.__view('ns_map'); const r = v.el.getBoundingClientRect();
            return [r.left + v.frame.x_scale.compute(3), r.top + v.frame.y_scale.compute(3)];""")
        from selenium.webdriver.common.actions.action_builder import ActionBuilder
        t0 = time.perf_counter()
        ab = ActionBuilder(driver)
        ab.pointer_action.move_to_location(int(px), int(py)).click()
        ab.perform()
        _wait(driver, """const v = window.__view('ns_trace');
            return v && v.model.renderers.some(r => r.data_source && r.data_source.name == 'ns_trace_data');""",
              timeout=120, what="trace")
        print(f"click -> instance panel and trace re-simulated ({old is None and 'first' or 'next'} click): "
              f"{time.perf_counter() - t0:.2f} s")
        rss, hwm = mem(p.pid)
        print(f"server memory: RSS {rss:.0f} MiB, peak {hwm:.0f} MiB "
              f"(database file {os.path.getsize(db) / 2**20:.0f} MiB)")
    finally:
        p.terminate()
        p.wait(10)


def _proc_mem():
    st = open("/proc/self/status").read()
    get = lambda k: int(next(l for l in st.splitlines() if l.startswith(k)).split()[1]) / 1024  # noqa: E731
    return {k: get(k + ":") for k in ("VmRSS", "RssAnon", "RssFile", "VmHWM")}


def bench_density(binary, db, repeats=3):
    """The density of a sampled database: the column cache (explorer/cache.py) against the
    streamed path (datashader over HDF5 blocks, the explorer before the cache), alternated, wall
    and CPU seconds per aggregation over every row (full range) and a zoom (a quarter of it)."""
    import tempfile

    import neurosweep as ns
    from neurosweep.explorer import ExplorerData

    import datashader  # noqa: F401 (imports counted in the baseline below)
    from neurosweep.explorer import cache as _c  # noqa: F401

    base = _proc_mem()
    root = os.environ.get("NEUROSWEEP_CACHE") or tempfile.mkdtemp(prefix="ns-bench-cache-")
    d = ExplorerData(ns.open(db), binary, cache_root=root)
    x, y = d.params[0], d.params[1]
    n = d.db.n_rows
    print(f"density of {n:,} rows over {x} x {y} (400 x 400 pixels, label counts); load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    t0 = time.perf_counter()
    d.prefetch([x, y, "label"])
    print(f"  column cache: {x}, {y}, label copied (or found) in {time.perf_counter() - t0:.2f} s "
          f"({root})")
    sel = d.select("")
    t0 = time.perf_counter()
    agg, xr, yr = d.density(x, y, "label", sel, 400, 400)
    print(f"  first cached aggregation (kernel compiled or loaded from numba's cache): {time.perf_counter() - t0:.2f} s")
    zx, zy = (xr[0], (xr[0] + xr[1]) / 2), (yr[0], (yr[0] + yr[1]) / 2)
    d.density(x, y, "label", sel, 400, 400, zx, zy)
    after_cached = _proc_mem()  # before any streamed pass (datashader's blocks)
    res = {k: [] for k in ("cached full", "cached zoom", "streamed full", "streamed zoom")}
    for r in range(repeats):
        for kind in ("cached", "streamed"):
            for view, rng in (("full", (xr, yr)), ("zoom", (zx, zy))):
                d._aggs.clear()  # no reuse of an earlier aggregate: every pass over the rows
                f = d.density if kind == "cached" else d.density_streamed
                w0, c0 = time.perf_counter(), time.process_time()
                a, _, _ = f(x, y, "label", sel, 400, 400, *rng)
                res[f"{kind} {view}"].append((time.perf_counter() - w0, time.process_time() - c0, int(a.values.sum())))
    for k, v in res.items():
        w = sorted(t[0] for t in v)
        c = sorted(t[1] for t in v)
        print(f"  {k:14s}: wall median {w[len(w) // 2]:.2f} s (min {w[0]:.2f}), CPU median {c[len(c) // 2]:.2f} s, "
              f"{v[0][2]:,} rows counted, {n / w[0] / 1e6:.1f} M rows/s (best wall)")
    for view in ("full", "zoom"):
        cw = sorted(t[0] for t in res[f"cached {view}"])[repeats // 2]
        sw = sorted(t[0] for t in res[f"streamed {view}"])[repeats // 2]
        print(f"  {view}: streamed / cached = {sw / cw:.1f} x (wall medians)")
    d._aggs.clear()
    d.density(x, y, "label", sel, 400, 400, xr, yr)
    w0 = time.perf_counter()
    d.density(x, y, "label", sel, 400, 400, xr, yr)
    print(f"  the same view again (kept aggregate): {(time.perf_counter() - w0) * 1000:.2f} ms")
    # the explorer's whole server-side redraw of a zoom: aggregate + shade (eq_hist) + image update
    try:
        from neurosweep.explorer.app import Explorer
        e = Explorer(d, tempfile.gettempdir())
        e.w_x.value, e.w_y.value = x, y
        ws = []
        for k in range(repeats):
            d._aggs.clear()
            f = 0.5 + 0.1 * k
            rng = ((xr[0], xr[0] + f * (xr[1] - xr[0])), (yr[0], yr[0] + f * (yr[1] - yr[0])))
            w0 = time.perf_counter()
            e._draw_density(rng)
            ws.append(time.perf_counter() - w0)
        print(f"  explorer redraw of a zoom (aggregate, shade, image), {repeats} zooms: median "
              f"{sorted(ws)[len(ws) // 2]:.2f} s, min {min(ws):.2f} s (load average {os.getloadavg()[0]:.1f})")
    except ImportError as ex:
        print(f"  explorer redraw not measured: {ex}")
    m = _proc_mem()
    print(f"  this process: anonymous memory {base['RssAnon']:.0f} MiB after the imports, "
          f"{after_cached['RssAnon']:.0f} MiB after the cached aggregations (file-backed "
          f"{after_cached['RssFile']:.0f} MiB: the mapped cache)")
    print(f"  this process: RSS {m['VmRSS']:.0f} MiB = anonymous {m['RssAnon']:.0f} MiB + file-backed "
          f"{m['RssFile']:.0f} MiB (cache maps, clean page cache), peak {m['VmHWM']:.0f} MiB; "
          f"cache files {sum(os.path.getsize(os.path.join(d.column_cache().dir, f)) for f in os.listdir(d.column_cache().dir)) / 2**20:.0f} MiB")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--grid", default=os.path.join(REPO, "out", "p03short.h5"))
    ap.add_argument("--sampled", default=os.path.join(REPO, "out", "random_short.h5"))
    ap.add_argument("--sampled-20m", default=os.path.join(REPO, "out", "random_20m.h5"),
                    help="20,000,000 random Izhikevich neurons (random_20m.json); built only with --build-20m "
                         "(about 15-50 min on 2 cores), else measured when present")
    ap.add_argument("--build-20m", action="store_true")
    ap.add_argument("--density-only", nargs="*", metavar="DB",
                    help="only the density benchmark, on these sampled databases (e.g. one written by "
                         "bench/explorer/make_rows.py)")
    ap.add_argument("--binary", default=os.path.join(REPO, "build", "neurosweep"))
    a = ap.parse_args()
    if a.density_only:
        for db in a.density_only:
            bench_density(a.binary, db)
        return
    os.makedirs(os.path.dirname(a.grid), exist_ok=True)
    build(a.binary, os.path.join(HERE, "prinz2003_short.json"), a.grid)
    from test_explorer import _chrome  # noqa: E402
    driver = _chrome()
    try:
        bench_grid(a.binary, a.grid, driver)
    finally:
        driver.quit()
    build(a.binary, os.path.join(HERE, "random_short.json"), a.sampled)
    bench_density(a.binary, a.sampled)
    if a.build_20m:
        build(a.binary, os.path.join(HERE, "random_20m.json"), a.sampled_20m)
    if os.path.exists(a.sampled_20m):
        bench_density(a.binary, a.sampled_20m)


if __name__ == "__main__":
    main()
