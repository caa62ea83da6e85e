"""The explorer's page: Panel widgets around Bokeh figures, served by a Bokeh/Tornado server on
localhost. Every number comes from explorer.data (streamed reads, `neurosweep query`,
`neurosweep simulate`); BokehJS and Panel's JS are served by the server itself (offline).
"""
from __future__ import annotations

import html
import os
import time
import traceback
from typing import Dict, List, Optional

import numpy as np

from ..database import Database
from ..plots import LABEL_COLOURS, label_colour, trace_cells
from ..errors import NeurosweepError
from ..simulate import settings_of
from .data import ExplorerData, ExplorerError, Selection

MAX_MAP_CELLS = 250_000  # larger 2-D grid slices are drawn as a density instead


def _fmt(v) -> str:
    if isinstance(v, float):
        return "nan" if v != v else f"{v:.6g}"
    return str(v)


def _viridis(values: np.ndarray, lo: float, hi: float) -> List[str]:
    from bokeh.palettes import Viridis256

    pal = np.asarray(Viridis256)
    out = np.full(len(values), "#DDDDDD", dtype=object)
    ok = np.isfinite(values)
    if ok.any():
        k = np.clip(((values[ok] - lo) / (hi - lo if hi > lo else 1.0) * 255).astype(int), 0, 255)
        out[ok] = pal[k]
    return list(out)


class Explorer:
    """One browser session's state and widgets (a new one per page load)."""

    def __init__(self, data: ExplorerData, export_dir: str):
        import panel as pn
        from bokeh.models import (ColorBar, ColumnDataSource, HoverTool, Legend, LinearColorMapper,
                                  TapTool)
        from bokeh.plotting import figure

        self.pn = pn
        self.d = data
        db = data.db
        self.export_dir = export_dir
        self.sel = Selection()
        self.grid = data.grid
        self.timings: Dict[str, float] = {}

        colours = (["label"] if "label" in db.columns else []) + data.features
        self.w_colour = pn.widgets.Select(label="Colour by", options=colours, value=colours[0] if colours else None)
        if self.grid:
            names = [a.name for a in db.axes]
            self.w_x = pn.widgets.Select(label="x axis", options=names, value=names[-1])
            self.w_y = pn.widgets.Select(label="y axis", options=names, value=names[-2])
            self.sliders: Dict[str, object] = {}
            for a in db.axes:
                opts = {f"{_fmt(float(v)) if not a.categorical else v}": k
                        for k, v in enumerate(a.coordinate())}
                self.sliders[a.name] = pn.widgets.DiscreteSlider(label=a.name, options=opts,
                                                                 value=0)
        else:
            names = data.params
            self.w_x = pn.widgets.Select(label="x parameter", options=names, value=names[0])
            self.w_y = pn.widgets.Select(label="y parameter", options=names,
                                         value=names[1] if len(names) > 1 else names[0])
            self.sliders = {}
        self.w_query = pn.widgets.TextInput(label="Query", placeholder="label == bursting and gNa > 100",
                                            css_classes=["ns-query"])
        self.w_apply = pn.widgets.Button(label="Apply query", color="primary")
        self.w_feature = pn.widgets.Select(label="Histogram of", options=data.features,
                                           value=data.features[0] if data.features else None)
        self.w_export = pn.widgets.Button(label="Export selection (CSV, Parquet, spec)")
        self.status = pn.pane.HTML("", css_classes=["ns-status"])
        self.fractions = pn.pane.HTML("", css_classes=["ns-fractions"])
        self.instance = pn.pane.HTML("<i>Click a point of the map.</i>", css_classes=["ns-instance"],
                                     sizing_mode="stretch_width")
        self.exported = pn.pane.HTML("", css_classes=["ns-export"])

        # the map
        self.src = ColumnDataSource(dict(x=[], y=[], index=[], label=[], value=[], colour=[], alpha=[]))
        self.fig = figure(title="", width=560, height=520, tools="tap,pan,wheel_zoom,box_zoom,reset",
                          name="ns_map", toolbar_location="above")
        if self.grid:
            self.r = self.fig.rect("x", "y", 1, 1, source=self.src, fill_color="colour", fill_alpha="alpha",
                                   line_color=None, name="ns_cells")
            self.fig.add_tools(HoverTool(renderers=[self.r], tooltips=[("instance", "@index"), ("label", "@label"),
                                                                        ("value", "@value")]))
            self.src.selected.on_change("indices", self._on_pick)
        else:
            self.img = ColumnDataSource(dict(image=[], x=[], y=[], dw=[], dh=[]))
            self.r = self.fig.image_rgba("image", "x", "y", "dw", "dh", source=self.img, name="ns_density")
            from bokeh.events import RangesUpdate, Tap
            self.fig.on_event(Tap, self._on_tap)
            self.fig.on_event(RangesUpdate, self._on_ranges)
            self._ranges = None
        self.legend = Legend(items=[], location="top_left", name="ns_legend")
        self.fig.add_layout(self.legend, "right")
        self.mapper = LinearColorMapper(palette="Viridis256", low=0, high=1)
        self.cbar = ColorBar(color_mapper=self.mapper, name="ns_colorbar", visible=False)
        self.fig.add_layout(self.cbar, "right")

        self.tsrc = ColumnDataSource(dict(t=[], V=[]))
        self.tfig = figure(title="voltage trace (re-simulated)", width=760, height=260, name="ns_trace",
                           x_axis_label="t (ms, from the start of the analysis window)", y_axis_label="V (mV)")
        self.cafig = figure(title="calcium", width=760, height=160, name="ns_calcium", x_range=self.tfig.x_range,
                            x_axis_label="t (ms)", y_axis_label="Ca (uM)", visible=False)
        self.hfig = figure(title="", width=560, height=260, name="ns_hist", y_axis_label="instances")
        self.rfig = figure(title="population rates (stored)", width=760, height=200, name="ns_rates",
                           x_axis_label="t (ms, from the start of the analysis window)", y_axis_label="rate (Hz)",
                           visible=False)

        # Panel widget callbacks run outside the Bokeh document lock: figures are changed on the
        # document's next tick (under the lock), as Bokeh server requires.
        self.doc = pn.state.curdoc
        for w in [self.w_colour, self.w_x, self.w_y, *self.sliders.values()]:
            w.param.watch(lambda e: self._later(self.redraw_map), "value")
        self.w_apply.on_click(lambda e: self._later(self.apply_query))
        self.w_query.param.watch(lambda e: self._later(self.apply_query), "value")
        self.w_feature.param.watch(lambda e: self._later(self.redraw_hist), "value")
        self.w_export.on_click(lambda e: self._later(self.export))

        info = (f"<b>{html.escape(db.name)}</b>: {db.n_rows:,} instances of {html.escape(db.model)}"
                f" ({'grid ' + ' x '.join(str(a.size) for a in db.axes) if self.grid else 'sampled'})")
        side = pn.Column(pn.pane.HTML(info), self.w_colour, self.w_x, self.w_y, *self.sliders.values(),
                         self.w_query, self.w_apply, self.status, self.fractions, self.w_feature,
                         self.w_export, self.exported, width=320)
        main = pn.Column(pn.Row(pn.pane.Bokeh(self.fig), pn.pane.Bokeh(self.hfig)),
                         pn.Row(self.instance), pn.pane.Bokeh(self.tfig), pn.pane.Bokeh(self.cafig),
                         pn.pane.Bokeh(self.rfig))
        self.view = pn.Row(side, main)
        self.redraw_all()

    def _later(self, fn) -> None:
        if self.doc is not None and self.doc.session_context is not None:
            self.doc.add_next_tick_callback(fn)
        else:
            fn()

    # ---- drawing ---------------------------------------------------------------------------------
    def _error(self, e: Exception) -> None:
        self.status.object = f"<span style='color:#B00'>{html.escape(str(e))}</span>"

    def redraw_all(self) -> None:
        self.redraw_map()
        self.redraw_summary()
        self.redraw_hist()

    def redraw_map(self) -> None:
        t0 = time.perf_counter()
        try:
            if self.grid:
                self._draw_grid()
            else:
                self._draw_density()
        except (ExplorerError, KeyError, ValueError) as e:
            self._error(e)
        self.timings["map_s"] = time.perf_counter() - t0

    def _label_legend(self, names: List[str], first_rows: Dict[str, int]) -> None:
        from bokeh.models import LegendItem

        self.legend.items = [LegendItem(label=n, renderers=[self.r], index=first_rows.get(n))
                             for n in names]

    def _draw_grid(self) -> None:
        d, db = self.d, self.d.db
        ax_name = lambda n: db.axis(n).name  # noqa: E731
        x, y = self.w_x.value, self.w_y.value
        fixed = {n: int(s.value) for n, s in self.sliders.items()}
        for n, s in self.sliders.items():
            s.visible = n not in (ax_name(x), ax_name(y))
        ix, iy, index = d.grid_slice(x, y, fixed)
        if len(index) > MAX_MAP_CELLS:
            raise ExplorerError(f"the {x} x {y} slice has {len(index)} cells; choose smaller axes")
        colour = self.w_colour.value
        names = d.label_names + ["unclassified"]
        lab = d.read_rows("label", index).astype(np.int64) if "label" in db.columns else np.zeros(len(index), np.int64)
        lab = np.where((lab >= 0) & (lab < len(d.label_names)), lab, len(d.label_names))
        lname = [names[k] for k in lab]
        if colour == "label":
            value = lab.astype(np.float64)
            cols = [label_colour(n, names) for n in lname]
        else:
            value = d.read_rows(colour, index).astype(np.float64)
            fin = value[np.isfinite(value)]
            lo, hi = (float(fin.min()), float(fin.max())) if len(fin) else (0.0, 1.0)
            cols = _viridis(value, lo, hi)
            self.mapper.update(low=lo, high=hi if hi > lo else lo + 1)
        alpha = np.ones(len(index))
        if not self.sel.all:
            alpha[~np.isin(index, self.sel.index)] = 0.12
        self.src.selected.indices = []
        self.src.data = dict(x=ix, y=iy, index=index.astype(np.int64), label=lname, value=value,
                             colour=cols, alpha=alpha)
        ax, ay = db.axis(x), db.axis(y)
        self.fig.xaxis.axis_label = self._axis_title(ax)
        self.fig.yaxis.axis_label = self._axis_title(ay)
        self.fig.xaxis.ticker = list(range(ax.size)) if ax.size <= 16 else None or self.fig.xaxis.ticker
        self.fig.xaxis.major_label_overrides = {k: _fmt(v) for k, v in enumerate(ax.coordinate().tolist())}
        self.fig.yaxis.major_label_overrides = {k: _fmt(v) for k, v in enumerate(ay.coordinate().tolist())}
        self.fig.title.text = (f"{colour} over {x} x {y}" +
                               (f" ({html.unescape(self._units(colour))})" if self._units(colour) else ""))
        if colour == "label":
            present = [n for n in names if n in set(lname)]
            first = {n: lname.index(n) for n in present}
            self._label_legend(present, first)
            self.legend.visible = True
            self.cbar.visible = False
        else:
            self.legend.items = []
            self.legend.visible = False
            self.cbar.title = f"{colour} ({self._units(colour)})" if self._units(colour) else colour
            self.cbar.visible = True

    def _units(self, c: str) -> str:
        u = self.d.db.units.get(c, "")
        return "" if u in ("", "1") else u

    def _axis_title(self, a) -> str:
        if len(a.params) == 1 and self._units(a.params[0]):
            return f"{a.name} ({self._units(a.params[0])})"
        return a.name

    def _draw_density(self, ranges=None) -> None:
        import datashader.transfer_functions as tf

        d = self.d
        x, y, colour = self.w_x.value, self.w_y.value, self.w_colour.value
        xr, yr = (ranges or (None, None))
        agg, xr, yr = d.density(x, y, colour, self.sel, 400, 400, xr, yr)
        names = d.label_names + ["unclassified"]
        if agg is None:
            self.img.data = dict(image=[], x=[], y=[], dw=[], dh=[])
            return
        if colour == "label":
            img = tf.shade(agg, color_key={n: label_colour(n, names) for n in names}, how="eq_hist", min_alpha=60)
            totals = agg.sum(dim=[agg.dims[0], agg.dims[1]]).values
            present = [n for n, c in zip(names, totals) if c > 0]
            self.legend.items = []
            from bokeh.models import LegendItem
            # one invisible square per present label carries the legend's colour
            if not hasattr(self, "_legend_src"):
                from bokeh.models import ColumnDataSource
                self._legend_src = ColumnDataSource(dict(x=[], y=[], c=[], n=[]))
                self._legend_r = self.fig.scatter("x", "y", color="c", source=self._legend_src, size=0, name="ns_legend_keys")
            self._legend_src.data = dict(x=[np.nan] * len(present), y=[np.nan] * len(present),
                                         c=[label_colour(n, names) for n in present], n=present)
            self.legend.items = [LegendItem(label=n, renderers=[self._legend_r], index=k) for k, n in enumerate(present)]
            self.legend.visible = True
            self.cbar.visible = False
        else:
            img = tf.shade(agg, cmap=["#440154", "#31688E", "#35B779", "#FDE725"], how="linear")
            fin = agg.values[np.isfinite(agg.values)]
            if len(fin):
                self.mapper.update(low=float(fin.min()), high=float(fin.max()))
            self.legend.items = []
            self.legend.visible = False
            self.cbar.title = f"{colour} ({self._units(colour)})" if self._units(colour) else colour
            self.cbar.visible = True
        rgba = np.ascontiguousarray(img.values.view(np.uint32).reshape(img.shape))
        self.img.data = dict(image=[rgba], x=[xr[0]], y=[yr[0]], dw=[xr[1] - xr[0]], dh=[yr[1] - yr[0]])
        self._ranges = (xr, yr)
        self.fig.xaxis.axis_label = f"{x} ({self._units(x)})" if self._units(x) else x
        self.fig.yaxis.axis_label = f"{y} ({self._units(y)})" if self._units(y) else y
        self.fig.title.text = f"{colour} density over {x} x {y}"

    def _on_ranges(self, event) -> None:
        if None in (event.x0, event.x1, event.y0, event.y1):
            return
        new = ((event.x0, event.x1), (event.y0, event.y1))
        if self._ranges and np.allclose(np.ravel(new), np.ravel(self._ranges), rtol=1e-9):
            return
        try:
            self._draw_density(new)
        except ExplorerError as e:
            self._error(e)

    def redraw_summary(self) -> None:
        d = self.d
        n = d.count(self.sel)
        what = "every instance" if self.sel.all else f"query <code>{html.escape(self.sel.where)}</code>"
        self.status.object = f"<span class='ns-count' data-count='{n}'>{n:,}</span> instances selected ({what})"
        fr = d.label_fractions(self.sel)
        rows = "".join(
            f"<tr class='ns-frac' data-label='{html.escape(k)}' data-count='{v}'>"
            f"<td><span style='color:{label_colour(k, d.label_names)}'>&#9632;</span> {html.escape(k)}</td>"
            f"<td style='text-align:right'>{v:,}</td><td style='text-align:right'>{(100.0 * v / n if n else 0):.1f}%</td></tr>"
            for k, v in fr.items())
        self.fractions.object = f"<table>{rows}</table>"

    def redraw_hist(self) -> None:
        from bokeh.models import ColumnDataSource

        f = self.w_feature.value
        self.hfig.renderers = []
        if not f:
            return
        try:
            edges, h = self.d.histograms(f, self.sel)
        except ExplorerError as e:
            self._error(e)
            return
        self.hfig.title.text = f"{f} per label" + (f" ({self._units(f)})" if self._units(f) else "")
        for name, counts in h.items():
            src = ColumnDataSource(dict(left=edges[:-1], right=edges[1:], top=counts))
            self.hfig.quad(left="left", right="right", bottom=0, top="top", source=src, fill_alpha=0.45,
                           color=label_colour(name, self.d.label_names), legend_label=name)

    # ---- actions ---------------------------------------------------------------------------------
    def apply_query(self) -> None:
        t0 = time.perf_counter()
        try:
            self.sel = self.d.select(self.w_query.value or "")
        except ExplorerError as e:
            self._error(e)
            return
        self.redraw_all()
        self.timings["query_s"] = time.perf_counter() - t0

    def _on_pick(self, attr, old, new) -> None:
        if new:
            self.show_instance(int(self.src.data["index"][new[0]]))

    def _on_tap(self, event) -> None:  # density maps: the nearest selected instance
        x, y = self.w_x.value, self.w_y.value
        xr, yr = self._ranges
        bi = self.d.nearest(x, y, event.x, event.y, xr, yr, self.sel)
        if bi is not None:
            self.show_instance(bi)

    def show_instance(self, i: int) -> None:
        from bokeh.models import ColumnDataSource

        t0 = time.perf_counter()
        row = self.d.instance(i)
        params = [c for c in self.d.params if c in row]
        feats = [c for c in self.d.features if c in row]

        def tr(k):
            u = self._units(k)
            return (f"<tr><td>{html.escape(k)}</td><td class='ns-val' data-name='{html.escape(k)}'>"
                    f"{html.escape(_fmt(row[k]))}</td><td>{html.escape(u)}</td></tr>")
        lab = str(row.get("label", ""))
        body = (f"<div class='ns-inst' data-instance='{i}' data-label='{html.escape(lab)}'>"
                f"<b>instance {i}</b>: <span style='color:{label_colour(lab, self.d.label_names)}'>&#9632;</span> "
                f"<b>{html.escape(lab)}</b> (status {html.escape(str(row.get('status', '')))})"
                f"<table style='display:inline-table;vertical-align:top;margin-right:2em'><tr><th colspan=3>parameters</th></tr>"
                + "".join(tr(k) for k in params) +
                "</table><table style='display:inline-table;vertical-align:top'><tr><th colspan=3>features</th></tr>"
                + "".join(tr(k) for k in feats) + "</table></div>")
        self.instance.object = body
        self._draw_rates(i)
        try:
            st = settings_of(self.d.db)
            every = max(float(st["dt_ms"]), float(st["analysis_ms"]) / 20000.0)
            trc = self.d.trace(i, every_ms=every)  # in-process engine, else `neurosweep simulate`
        except Exception as e:  # noqa: BLE001 (shown, not raised: the page stays usable)
            self.instance.object = body + f"<p style='color:#B00'>trace: {html.escape(str(e))}</p>"
            return
        cells = trace_cells(list(trc.values), trc.units)
        self.tfig.renderers = []
        self.cafig.renderers = []
        palette = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"]
        data = {"t": trc.t}
        for k, (tag, v, ca) in enumerate(cells):
            data[v] = trc.values[v]
            if ca:
                data[ca] = trc.values[ca]
        src = ColumnDataSource(data, name="ns_trace_data")
        for k, (tag, v, ca) in enumerate(cells):
            self.tfig.line("t", v, source=src, color=palette[k % len(palette)], legend_label=tag or v)
            if ca:
                self.cafig.line("t", ca, source=src, color=palette[k % len(palette)], legend_label=tag or ca)
        self.cafig.visible = any(ca for _, _, ca in cells)
        how = "in-process engine" if trc.command == ["neurosweep.Engine.trace"] else "neurosweep simulate"
        self.tfig.title.text = f"instance {i}: {lab} (re-simulated by the {how}, {len(trc.t):,} samples)"
        self.timings["instance_s"] = time.perf_counter() - t0

    def _draw_rates(self, i: int) -> None:
        """The stored population rates (/rates) of instance i: one line per series."""
        from bokeh.models import ColumnDataSource

        db = self.d.db
        if not db.rate_series:
            return
        self.rfig.renderers = []
        try:
            r = db.rates([int(i)])
        except (KeyError, ValueError, NeurosweepError) as e:
            self.rfig.title.text = f"population rates: {e}"
            return
        data = {"t": r.coords["time"].values}
        for k, name in enumerate(db.rate_series):
            data[f"s{k}"] = r.values[0, k].astype(np.float64)
        src = ColumnDataSource(data, name="ns_rates_data")
        palette = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"]
        for k, name in enumerate(db.rate_series):
            self.rfig.line("t", f"s{k}", source=src, color=palette[k % len(palette)], legend_label=name)
        self.rfig.title.text = f"instance {i}: population rates (stored, bins of {db.rate_bin_ms:g} ms)"
        self.rfig.visible = True

    def export(self) -> None:
        try:
            paths = self.d.export(self.sel, self.export_dir)
        except (ExplorerError, OSError) as e:
            self.exported.object = f"<span style='color:#B00'>{html.escape(str(e))}</span>"
            return
        self.exported.object = "Wrote<br>" + "<br>".join(
            f"<code class='ns-exported' data-kind='{k}'>{html.escape(p)}</code>" for k, p in paths.items())


def make_app(db_path: str, binary: Optional[str] = None, export_dir: Optional[str] = None):
    """A function building one page (per browser session) for pn.serve."""
    import panel as pn

    pn.extension(design="native")
    db = Database(db_path)
    data = ExplorerData(db, binary)
    export_dir = export_dir or os.getcwd()
    if not data.grid and len(data.params) >= 1:
        # the first page's density columns into the column cache while the server starts
        import threading
        first = data.params[:2] + (["label"] if "label" in db.columns else [])
        threading.Thread(target=data.prefetch, args=(first,), daemon=True, name="ns-prefetch").start()

    def page():
        e = Explorer(data, export_dir)
        pn.state.cache.setdefault("explorers", []).append(e)
        return e.view
    return page


def free_port(address: str = "127.0.0.1") -> int:
    import socket

    with socket.socket() as s:
        s.bind((address, 0))
        return s.getsockname()[1]


def serve(db_path: str, port: int = 0, address: str = "127.0.0.1", binary: Optional[str] = None,
          export_dir: Optional[str] = None, show: bool = False, threaded: bool = False):
    """Serve the explorer of `db_path` on http://address:port/ (port 0: a free one) and print the
    URL. threaded=True (notebooks, tests): the server runs in a thread, returns (thread, url);
    else it blocks until Ctrl-C."""
    import panel as pn

    os.environ.setdefault("BOKEH_RESOURCES", "server")  # BokehJS from this server: works offline
    page = make_app(db_path, binary, export_dir)  # opens the database: errors before serving
    port = int(port) or free_port(address)
    url = f"http://{address}:{port}/"
    origins = [f"{h}:{port}" for h in {address, "localhost", "127.0.0.1"}]
    print(f"neurosweep explore: {db_path} at {url} (Ctrl-C stops)", flush=True)
    if threaded:
        th = pn.serve(page, port=port, address=address, show=show, threaded=True, verbose=False,
                      websocket_origin=origins, title=f"neurosweep: {os.path.basename(db_path)}")
        return th, url
    try:
        pn.serve(page, port=port, address=address, show=show, verbose=False, websocket_origin=origins,
                 title=f"neurosweep: {os.path.basename(db_path)}")
    except KeyboardInterrupt:
        pass
    return None, url
