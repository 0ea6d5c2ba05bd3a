"""Heat-map and tornado plots of local sensitivities (matplotlib, an optional dependency)."""

from __future__ import annotations

import numpy as np

from .._optional import optional_import


def _pyplot():
    return optional_import("matplotlib.pyplot", "plotting", "plots", "matplotlib")


def _label(result, normalised: bool) -> str:
    if not normalised:
        return "∂y/∂x"
    if any(k == "time" for k in result.kinds):
        return "∂log y/∂log x  (dose times: ∂log y/∂t)"
    return "∂log y/∂log x"


def heatmap(result, o: int, normalised: bool, ax=None):
    """Inputs (rows, ranked by time-averaged |S|) against output times (columns)."""
    plt = _pyplot()
    values = (result.normalised if normalised else result.raw)[o].T  # (I, T)
    shown = np.where(np.isfinite(values), values, 0.0)
    order = np.argsort(-np.abs(shown).mean(axis=1), kind="stable")
    shown = shown[order]
    limit = float(np.max(np.abs(shown))) or 1.0
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 0.35 * len(order) + 1.5))
    t = result.times
    image = ax.imshow(shown, aspect="auto", cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest",
                      extent=(t[0], t[-1], len(order) - 0.5, -0.5))
    ax.set_yticks(range(len(order)))
    ax.set_yticklabels([result.inputs[i] for i in order])
    ax.set_xlabel("time")
    ax.set_title(f"sensitivity of {result.outputs[o]}")
    ax.figure.colorbar(image, ax=ax, label=_label(result, normalised))
    return ax


def tornado(result, o: int, time, normalised: bool, top, ax=None):
    """Horizontal bars, largest magnitude on top, at one time or at each input's peak."""
    plt = _pyplot()
    values = (result.normalised if normalised else result.raw)[o]  # (T, I)
    if time is None:
        table = result.table(normalised=normalised)
        table = table[table["output"] == result.outputs[o]]
        bars = np.array([table.set_index("input").loc[name, "peak"] for name in result.inputs])
        where = "peak over time"
    else:
        k = int(np.argmin(np.abs(result.times - float(time))))
        bars = values[k]
        where = f"t = {result.times[k]:g}"
    bars = np.where(np.isfinite(bars), bars, 0.0)
    order = np.argsort(-np.abs(bars), kind="stable")[: top or None]
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 0.35 * len(order) + 1.5))
    y = np.arange(len(order))[::-1]
    ax.barh(y, bars[order], color=np.where(bars[order] >= 0, "tab:red", "tab:blue"))
    ax.set_yticks(y)
    ax.set_yticklabels([result.inputs[i] for i in order])
    ax.axvline(0.0, color="black", linewidth=0.8)
    ax.set_xlabel(_label(result, normalised))
    ax.set_title(f"{result.outputs[o]}: {where}")
    return ax
