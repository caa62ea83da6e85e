"""Pictures of a neurosweep database (matplotlib, no display needed).

Every function takes a Database (or a path), draws into a new figure (or into `ax`), saves it
when `out` is given and returns the Figure. Labels have one fixed colour each, the same in every
plot (`LABEL_COLOURS`, from the Okabe-Ito colour-blind-safe palette); axes show units from the
database's `units` attributes.
"""
from __future__ import annotations

import os
import re
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import BoundaryNorm, ListedColormap  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from matplotlib.ticker import MaxNLocator, NullFormatter, NullLocator, ScalarFormatter  # noqa: E402

from .database import Axis, Database  # noqa: E402
from .database import open as _open  # noqa: E402

#: Fixed colour of each classifier label (docs/CLASSIFIER.md), Okabe & Ito (2008) palette.
LABEL_COLOURS: Dict[str, str] = {
    "silent": "#BBBBBB",              # light grey: nothing happens
    "tonic": "#0072B2",               # blue
    "bursting": "#D55E00",            # vermillion
    "irregular_bursting": "#E69F00",  # orange: a paler relative of bursting
    "irregular": "#CC79A7",           # reddish purple
    "unclassified": "#000000",        # black: status not ok / undecidable (label -1)
}
#: Colour of grid positions whose instance is not in the file (shard, unfinished build).
MISSING_COLOUR = "#FFFFFF"
_SPARE = ["#009E73", "#56B4E9", "#F0E442", "#882255", "#44AA99", "#999933", "#332288"]


def label_colour(name: str, names: Sequence[str] = ()) -> str:
    """Colour of a label name: the fixed one, else a spare colour by its position in `names`."""
    if name in LABEL_COLOURS:
        return LABEL_COLOURS[name]
    extra = [n for n in names if n not in LABEL_COLOURS]
    k = extra.index(name) if name in extra else abs(hash(name))
    return _SPARE[k % len(_SPARE)]


def pretty_units(u: str) -> str:
    """'mS/cm^2' -> 'mS/cm$^2$', 'uM' -> 'µM'; '' and '1' (dimensionless) -> ''."""
    if not u or u == "1":
        return ""
    u = re.sub(r"\^(-?\d+)", r"$^{\1}$", u)
    return re.sub(r"\bu(?=[MmAFVSs]\b|[MmAFVS])", "µ", u)


def axis_label(name: str, units: str) -> str:
    u = pretty_units(units)
    return f"{name} ({u})" if u else name


def _db(db) -> Database:
    return db if isinstance(db, Database) else _open(db)


def _finish(fig, out: Optional[str], dpi: int = 120):
    if out:
        fig.savefig(out, dpi=dpi, bbox_inches="tight")
    return fig


def _new_ax(ax, figsize):
    if ax is not None:
        return ax.figure, ax
    fig, ax = plt.subplots(figsize=figsize, layout="constrained")
    return fig, ax


def _label_codes(db: Database, codes: np.ndarray, present: Optional[np.ndarray] = None):
    """Map label codes to colour slots: names 0..K-1, K = unclassified (-1 or out of range),
    K+1 = not in the file. Returns (slots, names, colours)."""
    names = list(db.label_names)
    k = len(names)
    slots = np.where((codes >= 0) & (codes < k), codes, k).astype(np.int64)
    if present is not None:
        slots = np.where(present, slots, k + 1)
    colours = [label_colour(n, names) for n in names] + [LABEL_COLOURS["unclassified"], MISSING_COLOUR]
    return slots, names + ["unclassified", "not computed"], colours


def _edges(c: np.ndarray, log: bool) -> np.ndarray:
    c = np.asarray(c, dtype=np.float64)
    if len(c) == 1:
        w = abs(c[0]) * 0.1 or 0.5
        return np.array([c[0] - w, c[0] + w])
    if log and np.all(c > 0):
        lc = np.log(c)
        m = (lc[1:] + lc[:-1]) / 2
        return np.exp(np.concatenate([[2 * lc[0] - m[0]], m, [2 * lc[-1] - m[-1]]]))
    m = (c[1:] + c[:-1]) / 2
    return np.concatenate([[2 * c[0] - m[0]], m, [2 * c[-1] - m[-1]]])


def _is_log(a: Axis, c: np.ndarray) -> bool:
    """A log-spaced axis: kind 'log'/'logspace', or >= 3 positive values in constant ratio."""
    if a.kind.lower() in ("log", "logspace", "geomspace"):
        return True
    c = np.asarray(c, dtype=np.float64)
    if len(c) < 3 or np.any(c <= 0):
        return False
    r = c[1:] / c[:-1]
    d = np.diff(c)
    return bool(np.allclose(r, r[0], rtol=1e-9) and not np.allclose(d, d[0], rtol=1e-6))


def _axis_geometry(db: Database, a: Axis):
    """(edges, tick positions or None, tick labels or None, label, log) for drawing axis a."""
    c = a.coordinate()
    numeric = (not a.categorical and len(a.params) == 1 and a.params[0] in a.values
               and (len(c) == 1 or np.all(np.diff(c) > 0) or np.all(np.diff(c) < 0)))
    if numeric:
        log = _is_log(a, c)
        ticks = labels = None
        if a.size <= 16:  # small grids: a tick at every grid value
            ticks, labels = c, ["%g" % v for v in c]
        return _edges(c, log), ticks, labels, axis_label(a.params[0], db.units.get(a.params[0], "")), log
    pos = np.arange(a.size)
    if a.categorical:
        ticks = [str(x) for x in a.labels]
    elif a.values:
        ticks = [", ".join("%g" % a.values[p][j] for p in a.params) for j in range(a.size)]
    else:
        ticks = [str(j) for j in range(a.size)]
    units = {db.units.get(p, "") for p in a.params}
    name = a.name if a.categorical or len(units) != 1 else axis_label(a.name, units.pop())
    return _edges(pos, False), pos, ticks, name, False


def _apply_ticks(ax, which: str, ticks, labels, log: bool, categorical: bool) -> None:
    axis = ax.xaxis if which == "x" else ax.yaxis
    if log:
        (ax.set_xscale if which == "x" else ax.set_yscale)("log")
    if ticks is not None:
        axis.set_ticks(ticks)
        axis.set_ticklabels(labels, rotation=(60 if which == "x" and categorical else 0),
                            fontsize="small" if categorical else None)
        axis.set_minor_locator(NullLocator())
    elif log:
        axis.set_major_formatter(ScalarFormatter())
        axis.set_minor_formatter(NullFormatter())


def _select(db: Database, ds, keep: Sequence[str], fixed: Mapping[str, Any]):
    """Select the fixed axes in `ds`; returns (ds, description of the selection)."""
    desc = []
    isel = {}
    for key, val in (fixed or {}).items():
        a = db.axis(key)
        if a.name in keep:
            raise ValueError(f"{db.path}: axis '{a.name}' is drawn; it cannot also be fixed")
        if a.categorical:
            if isinstance(val, str):
                if val not in a.labels:
                    raise ValueError(f"{db.path}: fixed {key}={val!r}: not a position of axis "
                                     f"'{a.name}' ({', '.join(a.labels)})")
                j = a.labels.index(val)
            else:
                j = int(val)
            desc.append(f"{a.name} = {a.labels[j]}")
        else:
            p = key if key in a.values else (a.params[0] if a.params else None)
            if p is None or p not in a.values:
                j = int(val)
            else:
                v = a.values[p]
                j = int(np.argmin(np.abs(v - float(val))))
                tol = 1e-6 * max(1.0, abs(float(val)))
                if abs(v[j] - float(val)) > tol:
                    raise ValueError(
                        f"{db.path}: fixed {key}={val}: not a value of axis '{a.name}' "
                        f"(nearest {v[j]:g}; values {', '.join('%g' % x for x in v[:12])}"
                        f"{', ...' if len(v) > 12 else ''})")
                u = pretty_units(db.units.get(p, ""))
                desc.append(f"{p} = {v[j]:g}" + (f" {u}" if u else ""))
        isel[a.name] = j
    return ds.isel(isel), desc


# ---- map -------------------------------------------------------------------------------------
def _fine_coordinate(a: Axis, c: np.ndarray, S: int, log: bool) -> np.ndarray:
    """Values at the fractional grid indices k / S (k = 0 .. (n-1) S): linear between grid
    values, geometric on log axes (the values `neurosweep refine` gives its points)."""
    t = np.arange((len(c) - 1) * S + 1) / S
    if log:
        return np.exp(np.interp(t, np.arange(len(c)), np.log(c)))
    return np.interp(t, np.arange(len(c)), c)


def _refined_raster(db: Database, codes: np.ndarray, present, ax_x: Axis, ax_y: Axis):
    """The label map at the finest refined resolution: (codes, present, S, refined rows) on the
    lattice of 2^depth steps per grid step, or None when the database has no refinement over
    exactly these two axes. Each grid point paints the square of its spacing around it, then each
    refined point of level L the square of spacing 2^-L around it, coarse to fine, so refined
    regions show their finest points and the rest the grid (docs/FORMAT.md section 5)."""
    info = db.refine_info
    if not info or sorted(info.get("axes", [])) != sorted([ax_x.name, ax_y.name]) \
            or info.get("label_column") != "label":
        return None
    S = 2 ** int(info["depth"])
    ny, nx = codes.shape
    gy = (np.arange((ny - 1) * S + 1) + S // 2) // S
    gx = (np.arange((nx - 1) * S + 1) + S // 2) // S
    fine = codes[gy][:, gx].astype(np.int64)
    fpres = None if present is None else present[gy][:, gx]
    r = db.refined(["label", "level", "pos_" + ax_x.name, "pos_" + ax_y.name])
    lab = r["label"].cat.codes.to_numpy().astype(np.int64)  # -1: unclassified, as in the grid
    lvl = r["level"].to_numpy().astype(np.int64)
    ix = np.rint(r["pos_" + ax_x.name].to_numpy() * S).astype(np.int64)
    iy = np.rint(r["pos_" + ax_y.name].to_numpy() * S).astype(np.int64)
    for L in range(1, int(info["depth"]) + 1):
        hw = S >> (L + 1)
        for j in np.nonzero(lvl == L)[0]:
            ys, xs = slice(max(iy[j] - hw, 0), iy[j] + hw + 1), slice(max(ix[j] - hw, 0), ix[j] + hw + 1)
            fine[ys, xs] = lab[j]
            if fpres is not None:
                fpres[ys, xs] = True
    return fine, fpres, S, r


def plot_map(db, x: str, y: str, fixed: Optional[Mapping[str, Any]] = None,
             marginalise: Optional[str] = None, ax=None, out: Optional[str] = None,
             title: Optional[str] = None, dpi: int = 120, refined: str = "auto"):
    """Activity map over two grid axes x (horizontal) and y (vertical), named by axis or
    parameter name.

    A database written by `neurosweep refine` over these two axes is drawn at its finest
    resolution where it was refined (`refined="auto"`, the default); `refined="points"` also
    marks the refined points, `refined="off"` draws the grid alone. The legend then counts grid
    and refined points together.

    A database that is not a grid (random, Sobol, search results) is drawn by plot_scatter.

    Every other grid axis is either fixed at a chosen value (`fixed={"gNa": 100}`; for
    categorical axes a preset name) or, with `marginalise="bursting"`, averaged over: the map
    then shows the fraction of instances with that label at each (x, y). Without marginalise,
    axes of size > 1 must all be fixed. Positions not in the file (shards, unfinished builds)
    are white and counted as "not computed".
    """
    db = _db(db)
    if not db.is_grid:  # random, Sobol and search databases: the instances as points
        if fixed or marginalise:
            raise ValueError(f"{db.path}: not a grid sweep: fixed= and marginalise= need grid axes; "
                             f"plot_map draws every instance as a point (plot_scatter)")
        return plot_scatter(db, x, y, ax=ax, out=out, title=title, dpi=dpi)
    ax_x, ax_y = db.axis(x), db.axis(y)
    if ax_x.name == ax_y.name:
        raise ValueError(f"{db.path}: x and y are the same axis '{ax_x.name}'")
    if "label" not in db.columns:
        raise ValueError(f"{db.path}: no label column to map")
    ds = db.to_xarray()
    ds, desc = _select(db, ds, (ax_x.name, ax_y.name), fixed or {})
    rest = [d for d in ds["label"].dims if d not in (ax_x.name, ax_y.name)]
    if marginalise is None:
        big = [d for d in rest if ds.sizes[d] > 1]
        if big:
            raise ValueError(
                f"{db.path}: axes {', '.join(big)} are neither drawn nor fixed; give fixed="
                f"{{'{big[0]}': value, ...}} or marginalise='<label>' (fraction of a label over "
                f"them)")
    fig, ax = _new_ax(ax, (7.4, 5.2))
    ex, tx, tlx, lx, logx = _axis_geometry(db, ax_x)
    ey, ty, tly, ly, logy = _axis_geometry(db, ax_y)
    lab = ds["label"].transpose(ax_y.name, ax_x.name, *rest)
    present = ds["present"].transpose(ax_y.name, ax_x.name, *rest).values if "present" in ds else None
    codes = lab.values.astype(np.int64)
    if marginalise is None:
        codes = codes.reshape(codes.shape[:2])
        if present is not None:
            present = present.reshape(codes.shape)
        if refined not in ("auto", "points", "off"):
            raise ValueError(f"refined={refined!r}: expected 'auto', 'points' or 'off'")
        fine = None if refined == "off" else _refined_raster(db, codes, present, ax_x, ax_y)
        extra = np.zeros(0, dtype=np.int64)
        if fine is not None:
            codes, present, S, rpts = fine
            fx = _fine_coordinate(ax_x, ax_x.coordinate(), S, logx)
            fy = _fine_coordinate(ax_y, ax_y.coordinate(), S, logy)
            ex, ey = _edges(fx, logx), _edges(fy, logy)
            extra = rpts["label"].cat.codes.to_numpy().astype(np.int64)
        slots, names, colours = _label_codes(db, codes, present)
        cmap = ListedColormap(colours)
        norm = BoundaryNorm(np.arange(len(colours) + 1) - 0.5, len(colours))
        ax.pcolormesh(ex, ey, slots, cmap=cmap, norm=norm, edgecolors="none")
        if fine is not None:  # legend: grid points and refined points, not pixels
            g = lab.values.astype(np.int64).reshape(lab.shape[:2])
            gp = None if "present" not in ds else ds["present"].transpose(
                ax_y.name, ax_x.name, *rest).values.reshape(g.shape)
            slots_count = np.concatenate([_label_codes(db, g, gp)[0].ravel(), _label_codes(db, extra)[0]])
            if refined == "points":
                ax.scatter(np.interp(rpts["pos_" + ax_x.name], np.arange(len(fx)) / S, fx),
                           np.interp(rpts["pos_" + ax_y.name], np.arange(len(fy)) / S, fy),
                           s=1.5, c="black", marker=".", linewidths=0, label="refined points")
        else:
            slots_count = slots
        missing = slots == len(colours) - 1
        if missing.any():  # hatch the positions not in the file, so they are not mistaken for data
            ax.pcolor(ex, ey, np.ma.masked_where(~missing, np.ones(missing.shape)), hatch="///",
                      facecolor="none", edgecolor="#999999", linewidth=0)
        handles = []
        for k, n in enumerate(names):
            cnt = int(np.sum(slots_count == k))
            if cnt == 0 and k >= len(db.label_names):
                continue  # show every label name, but unclassified / missing only when present
            handles.append(Patch(facecolor=colours[k], edgecolor="#555555", linewidth=0.5,
                                 hatch="///" if k == len(colours) - 1 else None,
                                 label=f"{n} ({cnt})"))
        ax.legend(handles=handles, title="activity (instances)", loc="upper left",
                  bbox_to_anchor=(1.02, 1.0), frameon=False)
        what = "activity"
    else:
        if marginalise not in db.label_names:
            raise ValueError(f"{db.path}: marginalise={marginalise!r} is not a label "
                             f"({', '.join(db.label_names)})")
        k = db.label_names.index(marginalise)
        hit = (codes == k).astype(np.float64)
        valid = np.ones_like(hit, dtype=bool) if present is None else present.astype(bool)
        axes_ = tuple(range(2, hit.ndim))
        num = np.sum(np.where(valid, hit, 0.0), axis=axes_)
        den = np.sum(valid, axis=axes_)
        frac = np.where(den > 0, num / np.maximum(den, 1), np.nan)
        base = LABEL_COLOURS.get(marginalise)
        from matplotlib.colors import LinearSegmentedColormap
        cmap = (LinearSegmentedColormap.from_list(f"frac_{marginalise}", ["#FFFFFF", base])
                if base and marginalise != "silent" else plt.get_cmap("cividis"))
        cmap = cmap.with_extremes(bad="#DDDDDD")
        m = ax.pcolormesh(ex, ey, np.ma.masked_invalid(frac), cmap=cmap, vmin=0, vmax=1,
                          edgecolors="none")
        over = f" over {' x '.join(f'{d} ({ds.sizes[d]})' for d in rest)}" if rest else ""
        cb = fig.colorbar(m, ax=ax, pad=0.02)
        cb.set_label(f"fraction {marginalise}{over}")
        what = f"fraction {marginalise}"
    ax.set_xlabel(lx)
    ax.set_ylabel(ly)
    _apply_ticks(ax, "x", tx, tlx, logx, ax_x.categorical or ax_x.kind == "linked")
    _apply_ticks(ax, "y", ty, tly, logy, ax_y.categorical or ax_y.kind == "linked")
    ax.set_xlim(ex[0], ex[-1])
    ax.set_ylim(ey[0], ey[-1])
    sub = "; ".join(desc)
    state = "" if db.complete else f" [unfinished: {db.n_rows} of {db.n_instances}]"
    ax.set_title(title or (f"{db.name}: {what}{state}" + (f"\n{sub}" if sub else "")))
    return _finish(fig, out, dpi)


# ---- scatter (sampled and search databases) ----------------------------------------------------
def plot_scatter(db, x: str, y: str, colour: str = "label", highlight: Optional[str] = "auto",
                 ax=None, out: Optional[str] = None, title: Optional[str] = None, dpi: int = 120,
                 max_points: int = 200_000, log: Sequence[str] = ()):
    """Every instance as a point over two columns x, y (parameters of a random, Sobol or search
    database, or any numeric column), coloured by label (legend with counts) or by a numeric
    column (colour bar with units). `highlight`: a 0/1 column whose rows are ringed in black
    ("auto": `success` of a search result when present; None: none). More than `max_points`
    rows: an even subsample of them is drawn (the legend still counts every row). `log`: the
    axes ("x", "y") drawn on a log scale."""
    db = _db(db)
    for c in (x, y) + ((colour,) if colour != "label" else ()):
        if c not in db.columns:
            raise KeyError(f"{db.path}: no column '{c}' (columns: {', '.join(db.columns)})")
    if highlight == "auto":
        highlight = "success" if "success" in db.columns and "search" in db.attrs else None
    n = db.n_rows
    take = slice(None) if n <= max_points else np.linspace(0, n - 1, max_points).astype(np.int64)
    xs = np.asarray(db.column(x), dtype=np.float64)[take]
    ys = np.asarray(db.column(y), dtype=np.float64)[take]
    fig, ax = _new_ax(ax, (7.4, 5.2))
    if colour == "label":
        codes = db.column("label").astype(np.int64)
        slots_all, names, colours = _label_codes(db, codes)
        slots = slots_all[take]
        handles = []
        for k, nme in enumerate(names[:-1]):  # "not computed" does not apply to rows
            m = slots == k
            cnt = int(np.sum(slots_all == k))
            if cnt == 0:
                continue
            ax.scatter(xs[m], ys[m], s=9, c=colours[k], linewidths=0, alpha=0.85, zorder=2)
            handles.append(Patch(facecolor=colours[k], edgecolor="#555555", linewidth=0.5, label=f"{nme} ({cnt})"))
        what = "activity"
    else:
        v = np.asarray(db.column(colour), dtype=np.float64)[take]
        m = ax.scatter(xs, ys, s=9, c=v, cmap="viridis", linewidths=0, zorder=2, plotnonfinite=True)
        cb = fig.colorbar(m, ax=ax, pad=0.02)
        cb.set_label(axis_label(colour, db.units.get(colour, "")))
        handles, what = [], colour
    if highlight:
        h = np.asarray(db.column(highlight))[take].astype(bool)
        if h.any():
            ax.scatter(xs[h], ys[h], s=40, facecolors="none", edgecolors="black", linewidths=1.0, zorder=3)
        handles.append(plt.Line2D([], [], marker="o", ls="", mfc="none", mec="black",
                                  label=f"{highlight} ({int(np.sum(np.asarray(db.column(highlight)).astype(bool)))})"))
    if handles:
        ax.legend(handles=handles, title="instances" if colour == "label" else None, loc="upper left",
                  bbox_to_anchor=(1.02, 1.0), frameon=False)
    if "x" in log:
        ax.set_xscale("log")
    if "y" in log:
        ax.set_yscale("log")
    ax.set_xlabel(axis_label(x, db.units.get(x, "")))
    ax.set_ylabel(axis_label(y, db.units.get(y, "")))
    sub = "" if n <= max_points else f" ({max_points:,} of {n:,} instances drawn)"
    ax.set_title(title or f"{db.name}: {what} over {x} x {y}{sub}")
    return _finish(fig, out, dpi)


# ---- fractions -------------------------------------------------------------------------------
def plot_fractions(db, by: Optional[str] = None, ax=None, out: Optional[str] = None,
                   title: Optional[str] = None, dpi: int = 120):
    """Fractions of the activity labels: a horizontal bar per label (by=None), or, with
    by=<grid axis>, stacked fractions at each position of that axis (all other axes pooled)."""
    db = _db(db)
    codes = db.column("label").astype(np.int64)
    slots, names, colours = _label_codes(db, codes)
    n = len(codes)
    if by is None:
        fig, ax = _new_ax(ax, (7.0, 0.5 * len(names) + 1.6))
        show = [k for k in range(len(names) - 1) if k < len(db.label_names) or np.any(slots == k)]
        counts = np.array([np.sum(slots == k) for k in show])
        frac = counts / max(n, 1)
        ypos = np.arange(len(show))[::-1]
        ax.barh(ypos, 100 * frac, color=[colours[k] for k in show], edgecolor="#333333",
                linewidth=0.6)
        for yy, f, c in zip(ypos, frac, counts):
            ax.text(100 * f + 1, yy, f"{100 * f:.1f}% ({c})", va="center", fontsize="small")
        ax.set_yticks(ypos)
        ax.set_yticklabels([names[k] for k in show])
        ax.set_xlim(0, 115)
        ax.set_xlabel("fraction of instances (%)")
        ax.set_ylabel("activity")
        state = "" if db.complete else " (unfinished build)"
        ax.set_title(title or f"{db.name}: activity types of {n} instances{state}")
        return _finish(fig, out, dpi)
    a = db.axis(by)
    pos = db.grid_position()[db.axes.index(a)]
    fig, ax = _new_ax(ax, (8.0, 4.6))
    ex, ticks, tlabels, xlabel, log = _axis_geometry(db, a)
    widths = np.diff(ex)
    bottom = np.zeros(a.size)
    handles = []
    tot = np.bincount(pos, minlength=a.size).astype(np.float64)
    for k in range(len(names) - 1):
        cnt = np.bincount(pos[slots == k], minlength=a.size)
        if k >= len(db.label_names) and not cnt.any():
            continue
        f = np.where(tot > 0, cnt / np.maximum(tot, 1), 0.0)
        ax.bar(ex[:-1], f, width=widths, bottom=bottom, align="edge", color=colours[k],
               edgecolor="none")
        bottom += f
        handles.append(Patch(facecolor=colours[k], edgecolor="#555555", linewidth=0.5,
                             label=names[k]))
    ax.set_xlim(ex[0], ex[-1])
    _apply_ticks(ax, "x", ticks, tlabels, log, a.categorical or a.kind == "linked")
    ax.set_ylim(0, 1)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("fraction of instances")
    ax.legend(handles=handles[::-1], title="activity", loc="upper left", bbox_to_anchor=(1.02, 1.0),
              frameon=False)
    others = [b.name for b in db.axes if b.name != a.name]
    ax.set_title(title or (f"{db.name}: activity along {a.name}" +
                           (f" (pooled over {', '.join(others)})" if others else "")))
    return _finish(fig, out, dpi)


# ---- features --------------------------------------------------------------------------------
def plot_feature(db, name: str, by: Optional[str] = "label", bins: int = 40, log: bool = False,
                 ax=None, out: Optional[str] = None, title: Optional[str] = None, dpi: int = 120):
    """Distribution of one feature (histogram of its finite values), one colour per label
    (by="label", any enum column works) or pooled (by=None). Labels where the feature is
    undefined (NaN) everywhere are left out; the legend gives n per label."""
    db = _db(db)
    if name not in db.columns:
        raise KeyError(f"{db.path}: no column '{name}' (columns: {', '.join(db.columns)})")
    v = db.column(name).astype(np.float64)
    fin = np.isfinite(v)
    if not fin.any():
        raise ValueError(f"{db.path}: feature '{name}' is undefined (NaN) for every instance")
    fig, ax = _new_ax(ax, (7.4, 4.6))
    vals = v[fin]
    if log:
        pos_vals = vals[vals > 0]
        if not len(pos_vals):
            raise ValueError(f"{db.path}: log=True but '{name}' has no positive values")
        edges = np.geomspace(pos_vals.min(), pos_vals.max(), bins + 1)
        ax.set_xscale("log")
    else:
        lo, hi = float(vals.min()), float(vals.max())
        if lo == hi:
            lo, hi = lo - 0.5, hi + 0.5
        edges = np.linspace(lo, hi, bins + 1)
    if by is None:
        ax.hist(vals, bins=edges, color="#555555", alpha=0.8, label=f"all (n={len(vals)})")
        ax.legend(frameon=False)
    else:
        if not db.enum_names(by):
            raise ValueError(f"{db.path}: by={by!r} must be an enum column "
                             f"({', '.join(c for c in db.columns if db.enum_names(c))}) or None")
        codes = db.column(by).astype(np.int64)
        if by == "label":
            slots, names, colours = _label_codes(db, codes)
        else:
            names = db.enum_names(by) + ["other"]
            slots = np.where((codes >= 0) & (codes < len(names) - 1), codes, len(names) - 1)
            colours = [_SPARE[k % len(_SPARE)] for k in range(len(names))]
        for k in range(len(names) - 1):
            sel = fin & (slots == k)
            if not sel.any():
                continue
            c = colours[k] if colours[k] != "#BBBBBB" else "#888888"
            ax.hist(v[sel], bins=edges, histtype="stepfilled", alpha=0.35, color=c)
            ax.hist(v[sel], bins=edges, histtype="step", linewidth=1.6, color=c,
                    label=f"{names[k]} (n={int(sel.sum())})")
        ax.legend(title=by, frameon=False, loc="best")
    ax.set_xlabel(axis_label(name, db.units.get(name, "")))
    ax.set_ylabel("instances")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    desc = db._colspec[name].get("description") or ""
    ax.set_title(title or (f"{db.name}: {name}" + (f" by {by}" if by else "") +
                           (f"\n{desc}" if desc else "")))
    return _finish(fig, out, dpi)


# ---- traces ----------------------------------------------------------------------------------
_V_RE = re.compile(r"^(?:(?P<pre>[^.:/]+)[.:/])?(?:V_m|V)(?:_(?P<post>.+)|\[(?P<idx>[^\]]+)\]|(?P<num>\d+))?$")


def trace_cells(names: Sequence[str], units: Mapping[str, str]) -> List[Tuple[str, str, Optional[str]]]:
    """Cells of a trace: [(cell tag, membrane-potential variable, calcium variable or None)].

    A membrane potential is a variable in mV named V or V_m, alone (one cell) or tagged with a
    cell name: 'AB.V', 'AB:V', 'V_AB', 'V[0]', 'V0'. Its calcium is 'Ca' with the same tag.
    Falls back to the first variable in mV."""
    cells = []
    for n in names:
        if units.get(n, "mV") != "mV":
            continue
        m = _V_RE.match(n)
        if not m:
            continue
        tag = m.group("pre") or m.group("post") or m.group("idx") or m.group("num") or ""
        if m.group("pre"):
            cands = [f"{tag}.Ca", f"{tag}:Ca", f"{tag}/Ca"]
        elif tag:
            cands = [f"Ca_{tag}", f"Ca[{tag}]", f"Ca{tag}"]
        else:
            cands = ["Ca"]
        ca = next((c for c in cands if c in names), None)
        cells.append((tag, n, ca))
    if not cells:
        mv = [n for n in names if units.get(n) == "mV"]
        if mv:
            cells.append(("", mv[0], None))
    return cells


def plot_trace(db, i: int, binary: Optional[str] = None, window: Optional[Tuple[float, float]] = None,
               every_ms: Optional[float] = None, show_ca: bool = True, out: Optional[str] = None,
               title: Optional[str] = None, dpi: int = 120, trace=None):
    """Re-simulate instance i through `neurosweep simulate` (exact parameters and settings of the
    build) and draw its membrane potential (and calcium) over the analysis window; one panel
    (pair) per cell for multi-cell models. The spike times stored in the database are marked
    above the voltage trace (they should sit on the spikes). `window=(t0, t1)` in ms from the
    start of the analysis window; `every_ms`: sampling interval (default 0.1 ms); `trace`: a
    Trace from neurosweep.resimulate to reuse."""
    from .simulate import resimulate

    db = _db(db)
    if every_ms is None:
        every_ms = 0.1  # ms: resolves spikes (about 1 ms wide) at a tenth of the samples of dt
    tr = trace if trace is not None else resimulate(db, i, binary=binary, every_ms=every_ms)
    cells = trace_cells(list(tr.values), tr.units)
    if not cells:
        raise ValueError(f"{db.path}: the trace of instance {i} has no membrane potential (mV) "
                         f"variable: {', '.join(tr.values)}")
    t = tr.t
    sel = np.ones(len(t), dtype=bool) if window is None else (t >= window[0]) & (t <= window[1])
    span = (t[sel][-1] - t[sel][0]) if sel.any() else 0.0
    scale, tunit = (1e-3, "s") if span > 2000 else (1.0, "ms")
    rows, ratios = [], []
    for cell in cells:
        rows.append(("V", cell))
        ratios.append(3)
        if show_ca and cell[2]:
            rows.append(("Ca", cell))
            ratios.append(1.2)
    fig, axs = plt.subplots(len(rows), 1, sharex=True, squeeze=False, layout="constrained",
                            figsize=(10, 1.1 * sum(ratios) + 0.9), gridspec_kw={"height_ratios": ratios})
    row = db.row(i)
    label = row.get("label", "")
    colour = label_colour(str(label), db.label_names) if label in db.label_names else "#000000"
    def stored_of(tag):  # the database's spike times of this panel's cell, or None
        if db.max_spikes_stored <= 0:
            return None
        if db.spike_cells:
            return np.asarray(db.spikes(i, tag), dtype=np.float64) if tag in db.spike_cells else None
        return np.asarray(db.spikes(i), dtype=np.float64) if len(cells) == 1 else None
    for ax, (kind, (tag, vname, caname)) in zip(axs[:, 0], rows):
        stored = stored_of(tag)
        name = vname if kind == "V" else caname
        ax.plot(t[sel] * scale, tr.values[name][sel], color="#222222" if kind == "V" else colour,
                linewidth=0.6)
        who = f"{tag} " if tag else ""
        ax.set_ylabel(axis_label(f"{who}{'V' if kind == 'V' else '[Ca]'}", tr.units.get(name, "")))
        if kind == "V" and stored is not None and len(stored):
            s = stored[(stored >= t[sel][0]) & (stored <= t[sel][-1])] if sel.any() else stored[:0]
            top = np.nanmax(tr.values[name][sel]) if sel.any() else 0
            ax.plot(s * scale, np.full(len(s), top + 6), "|", color=colour, markersize=7,
                    label=f"stored spike times ({len(stored)})")
            ax.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), frameon=False,
                      fontsize="small", borderaxespad=0.1)
        ax.grid(alpha=0.25)
    axs[-1, 0].set_xlabel(f"time from the start of the analysis window ({tunit})")
    params = db.params_of(i, model_params=tr.params.keys())
    fixed = set((db.spec.get("fixed") or {}).keys())
    swept = ", ".join(f"{k} = {v:g}" for k, v in params.items() if k not in fixed)
    fig.suptitle(title or f"{db.name}: instance {i} ({label})" + (f"\n{swept}" if swept else ""))
    return _finish(fig, out, dpi)
