"""Charts for the playbooks, drawn with matplotlib's Agg canvas and shown as static PNGs.

Figures are built without pyplot (no global backend, no interactive state), so a chart is the
same in Jupyter, under papermill and in an exported HTML/PDF: :func:`show` puts the PNG into the
cell's output as an ``image/png``. An empty frame draws an empty chart that says so.
"""

from __future__ import annotations

import datetime as dt
import io
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

TOP = 8  # series shown by name; the rest are summed into "other"
_BINS = [dt.timedelta(minutes=m) for m in (1, 5, 15, 30, 60, 180, 360, 720, 1440)]
_MAX_BINS = 120


def _figure(rows: int = 1, height: float = 3.2) -> tuple[Figure, list[Axes]]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, height * rows), dpi=96, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, 1, squeeze=False, sharex=rows > 1)
    return fig, [ax for row in axes for ax in row]


def _empty(ax: Axes, what: str) -> None:
    ax.text(0.5, 0.5, f"no {what} in the window", ha="center", va="center", transform=ax.transAxes,
            color="0.4")
    ax.set_xticks([])
    ax.set_yticks([])


def bin_size(start: Any, end: Any) -> dt.timedelta:
    """The smallest of 1m, 5m, 15m, 30m, 1h ... 1d that draws the span in at most 120 bars."""
    import pandas as pd

    span = pd.Timestamp(end) - pd.Timestamp(start)
    for b in _BINS:
        if span / b <= _MAX_BINS:
            return b
    return _BINS[-1]


def _binned(df: pd.DataFrame, time_col: str, by: str | None, value: str | None) -> pd.DataFrame:
    """Counts (or sums of ``value``) per time bin and ``by``; columns are the top series + other."""
    import pandas as pd

    t = pd.to_datetime(df[time_col], utc=True)
    size = bin_size(t.min(), t.max() + pd.Timedelta(minutes=1))
    frame = pd.DataFrame({"bin": t.dt.floor(size),
                          "series": df[by].fillna("(none)").astype(str) if by else "events",
                          "value": df[value] if value else 1})
    table = frame.pivot_table(index="bin", columns="series", values="value", aggfunc="sum", fill_value=0)
    order = table.sum().sort_values(ascending=False).index
    table = table[order]
    if table.shape[1] > TOP:
        table = pd.concat([table.iloc[:, :TOP - 1], table.iloc[:, TOP - 1:].sum(axis=1).rename("other")], axis=1)
    full = pd.date_range(table.index.min(), table.index.max(), freq=size)
    return table.reindex(full, fill_value=0)


def _edges(index: pd.DatetimeIndex) -> Any:
    """Bin edges as matplotlib date numbers (one more than bins). Numbers, and one ``stairs``
    artist per series rather than a patch per bar, keep a chart of hundreds of bins fast."""
    import numpy as np
    from matplotlib import dates as mdates

    naive = index.tz_convert(None) if index.tz is not None else index
    x = mdates.date2num(naive.to_pydatetime())
    step = (x[1] - x[0]) if len(x) > 1 else 1 / 1440
    return np.append(x, x[-1] + step)


def _date_axis(ax: Axes) -> None:
    from matplotlib import dates as mdates

    locator = mdates.AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))


def _stacked_bars(ax: Axes, table: pd.DataFrame, title: str) -> None:
    import numpy as np

    edges = _edges(table.index)
    bottom = np.zeros(len(table))
    for col in table.columns:
        top = bottom + table[col].to_numpy(dtype=float)
        ax.stairs(top, edges, baseline=bottom, fill=True, label=str(col))
        bottom = top
    _date_axis(ax)
    ax.set_title(title, loc="left", fontsize=10)
    ax.set_ylabel("calls")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    ax.grid(axis="y", alpha=0.3)


def activity_timeline(df: pd.DataFrame, *, time_col: str = "minute", count_col: str | None = "events",
                      by: tuple[str, ...] = ("service", "region"), title: str = "Activity") -> Figure:
    """Calls over time, one stacked-bar panel per ``by`` column (service, region, ...).

    ``df`` is either per-event rows (``count_col=None``) or pre-counted rows such as the
    ``timeline`` / ``window_activity`` queries return (``count_col='events'``).
    """
    fig, axes = _figure(len(by))
    if df is None or not len(df):
        for ax in axes:
            _empty(ax, "calls")
        axes[0].set_title(title, loc="left", fontsize=10)
        return fig
    for ax, col in zip(axes, by, strict=True):
        _stacked_bars(ax, _binned(df, time_col, col, count_col), f"{title} by {col.replace('_', ' ')}")
    axes[-1].set_xlabel("time (UTC)")
    return fig


def error_rate(df: pd.DataFrame, *, time_col: str = "minute", count_col: str = "events",
               error_col: str = "errors", title: str = "Error rate") -> Figure:
    """Calls per time bin (bars: succeeded / failed) and the share that failed (line, right axis)."""
    fig, (ax,) = _figure(1)
    if df is None or not len(df):
        _empty(ax, "calls")
        ax.set_title(title, loc="left", fontsize=10)
        return fig

    calls = _binned(df, time_col, None, count_col).sum(axis=1)
    errors = _binned(df.assign(_e=df[error_col]), time_col, None, "_e").sum(axis=1).reindex(calls.index, fill_value=0)
    edges = _edges(calls.index)
    ok = (calls - errors).to_numpy(dtype=float)
    ax.stairs(ok, edges, fill=True, color="#4c72b0", label="succeeded")
    ax.stairs(calls.to_numpy(dtype=float), edges, baseline=ok, fill=True, color="#c44e52", label="failed")
    _date_axis(ax)
    ax.set_ylabel("calls")
    rate = (errors / calls.where(calls > 0)).fillna(0) * 100
    ax2 = ax.twinx()
    ax2.plot((edges[:-1] + edges[1:]) / 2, rate.to_numpy(), color="black", linewidth=1.2, label="% failed")
    ax2.set_ylim(0, 105)
    ax2.set_ylabel("% failed")
    total = int(calls.sum())
    failed = int(errors.sum())
    ax.set_title(f"{title}: {failed} of {total} calls failed ({failed / total:.0%})" if total else title,
                 loc="left", fontsize=10)
    handles = ax.get_legend_handles_labels()
    h2 = ax2.get_legend_handles_labels()
    ax.legend(handles[0] + h2[0], handles[1] + h2[1], fontsize=7, loc="upper left", frameon=False)
    ax.set_xlabel("time (UTC)")
    return fig


def source_ips(df: pd.DataFrame, *, ip_col: str = "source_ip", count_col: str = "events",
               error_col: str | None = "errors", highlight: set[str] | frozenset[str] = frozenset(),
               title: str = "Source addresses", top: int = 15) -> Figure:
    """Calls per source address (horizontal bars, failures stacked); ``highlight`` marks
    addresses to look at (outside the instance, new, ...) in red."""
    n = df[ip_col].nunique(dropna=False) if df is not None and len(df) else 0
    fig, (ax,) = _figure(1, height=0.35 * min(top, max(n, 3)) + 1.2)
    if df is None or not len(df):
        _empty(ax, "source addresses")
        ax.set_title(title, loc="left", fontsize=10)
        return fig
    agg = {count_col: "sum"} | ({error_col: "sum"} if error_col else {})
    per_ip = df.groupby(df[ip_col].fillna("(none)").astype(str)).agg(agg).sort_values(count_col, ascending=False)
    per_ip = per_ip.head(top).iloc[::-1]
    labels = list(per_ip.index)
    colors = ["#c44e52" if ip in highlight else "#4c72b0" for ip in labels]
    ok = per_ip[count_col] - (per_ip[error_col] if error_col else 0)
    ax.barh(labels, ok, color=colors, label="succeeded")
    if error_col:
        ax.barh(labels, per_ip[error_col], left=ok, color="0.6", label="failed")
        ax.legend(fontsize=7, loc="lower right", frameon=False)
    ax.set_xlabel("calls")
    suffix = " (red: " + ", ".join(sorted(highlight & set(labels))) + ")" if highlight & set(labels) else ""
    ax.set_title(title + suffix, loc="left", fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    return fig


def calls_timeline(df: pd.DataFrame, *, time_col: str = "event_time", by: str = "event_name",
                   color_by: str | None = None, title: str = "Calls") -> Figure:
    """One dot per call on a time axis, one row per ``by`` value (e.g. tampering calls)."""
    fig, (ax,) = _figure(1, height=max(2.4, 0.35 * (df[by].nunique() if df is not None and len(df) else 4) + 1.2))
    if df is None or not len(df):
        _empty(ax, "such calls")
        ax.set_title(title, loc="left", fontsize=10)
        return fig
    import pandas as pd

    t = pd.to_datetime(df[time_col], utc=True)
    names = sorted(df[by].fillna("(none)").astype(str).unique())
    ypos = {n: i for i, n in enumerate(names)}
    groups = df[color_by].fillna("(none)").astype(str) if color_by else pd.Series("calls", index=df.index)
    for g in sorted(groups.unique()):
        mask = groups == g
        ax.scatter(t[mask], [ypos[str(v)] for v in df.loc[mask, by].fillna("(none)")], s=36, label=g, alpha=0.8)
    ax.set_yticks(range(len(names)), names, fontsize=8)
    ax.set_ylim(-0.7, len(names) - 0.3)
    if color_by:
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    ax.set_title(title, loc="left", fontsize=10)
    ax.set_xlabel("time (UTC)")
    ax.grid(axis="x", alpha=0.3)
    fig.autofmt_xdate()
    return fig


def png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def show(fig: Figure) -> None:
    """Display ``fig`` as a static PNG (an ``image/png`` output that survives export)."""
    from IPython.display import Image, display

    display(Image(data=png(fig), format="png"))
