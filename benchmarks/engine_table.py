"""The one table of the engine benchmark, and the verdicts on issue 5's targets."""

from __future__ import annotations

import math
from dataclasses import dataclass

#: Issue 5's "qsp must reach" cells (absolute numbers were measured on an idle 2-core machine).
TARGET_T2_RATE = 2000.0  # patients/s using both cores
TARGET_T2_RSS_GIB = 2.0
TARGET_T3_MS, TARGET_T3_ERR = 30.0, 1e-6
TARGET_T4_MS = 2.2
TARGET_T5_STATES, TARGET_T5_COMPILE_S, TARGET_T5_MS = 500, 5.0, 10.0  # compile and per simulation
TARGET_T6_MS, TARGET_T6_ERR = 20.0, 1e-6


@dataclass
class Row:
    task: str
    tool: str
    setting: str
    wall: float | None = None  # median seconds (T2: the whole batch)
    cpu: float | None = None
    runs: int | None = None
    subjects: int | None = None  # T2 only
    error_vs_ref: float | None = None
    rss_gib: float | None = None
    first: float | None = None  # seconds of the first call (includes JAX compilation)
    note: str = ""
    error: str | None = None

    @property
    def per_item(self) -> float | None:
        """Seconds per simulation (T2: per patient)."""
        if self.wall is None:
            return None
        return self.wall / self.subjects if self.subjects else self.wall

    @property
    def cpu_per_item(self) -> float | None:
        if self.cpu is None:
            return None
        return self.cpu / self.subjects if self.subjects else self.cpu

    @property
    def group(self) -> str:
        """Rows compared with each other: the task, and for T1 the tolerance, for T5 the network
        size (the first item of ``setting``)."""
        if self.task in ("T1", "T5"):
            return f"{self.task} " + self.setting.split(",")[0]
        return self.task


COLUMNS = ("task", "tool", "setting", "wall", "CPU", "runs", "patients/s", "patients/CPU-s", "peak RSS",
           "err vs ref", "peer/qsp wall", "peer/qsp CPU", "first call", "notes")


def _time(seconds):
    if seconds is None:
        return "—"
    return f"{seconds * 1e3:.3g} ms" if seconds < 1 else f"{seconds:.3g} s"


def _num(x, fmt):
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, fmt)


def qsp_reference(rows, group) -> Row | None:
    """The fastest qsp row of a group that ran (what peers are compared with)."""
    candidates = [r for r in rows if r.group == group and r.tool.startswith("qsp") and r.wall is not None
                  and "defaults" not in r.setting]
    return min(candidates, key=lambda r: r.per_item, default=None)


def print_table(rows) -> None:
    print("| " + " | ".join(COLUMNS) + " |")
    print("|" + "---|" * len(COLUMNS))
    for r in rows:
        if r.error is not None:
            cells = [r.task, r.tool, r.setting] + ["—"] * (len(COLUMNS) - 4) + [f"not measured: {r.error}"]
            print("| " + " | ".join(cells) + " |")
            continue
        ref = qsp_reference(rows, r.group)
        peer = ref is not None and not r.tool.startswith("qsp")
        ratio = r.per_item / ref.per_item if peer else None
        cpu_ratio = r.cpu_per_item / ref.cpu_per_item if peer and r.cpu and ref.cpu else None
        rate = r.subjects / r.wall if r.subjects else None
        cpu_rate = r.subjects / r.cpu if r.subjects and r.cpu else None
        cells = [r.task, r.tool, r.setting, _time(r.wall), _time(r.cpu), _num(r.runs, "d"), _num(rate, ",.0f"),
                 _num(cpu_rate, ",.0f"), _num(r.rss_gib, ".2f"), _num(r.error_vs_ref, ".1e"), _num(ratio, ".2f"),
                 _num(cpu_ratio, ".2f"), _time(r.first), r.note]
        print("| " + " | ".join(cells) + " |")


def _find(rows, group, tool, setting_part="") -> Row | None:
    for r in rows:
        if r.group == group and r.tool == tool and setting_part in r.setting and r.wall is not None:
            return r
    return None


def targets(rows) -> list[str]:
    """One line per "qsp must reach" cell of issue 5 that this run measured: PASS/MISS."""
    out = ["Targets of issue 5 (absolute times were set on an idle machine: read them with the load above):"]

    def verdict(ok):
        return "PASS" if ok else "MISS"

    for group in ("T1 rtol 1e-08", "T1 rtol 1e-06"):
        q, rr = _find(rows, group, "qsp jit", "Rodas5P"), _find(rows, group, "libRoadRunner")
        if q and rr:
            out.append(f"* {group}: qsp jit {_time(q.wall)} wall, {_time(q.cpu)} CPU (err {q.error_vs_ref:.1e}) vs "
                       f"libRoadRunner {_time(rr.wall)} wall, {_time(rr.cpu)} CPU (err {rr.error_vs_ref:.1e}): "
                       f"{verdict(q.wall <= rr.wall)} on wall time, {verdict(q.cpu <= rr.cpu)} on CPU time, "
                       f"accuracy {verdict(q.error_vs_ref <= rr.error_vs_ref)}")
        elif q:
            out.append(f"* {group}: qsp jit {_time(q.wall)}; libRoadRunner not measured")
    for q2 in [r for r in rows if r.task == "T2" and r.tool == "qsp" and "2 cores" in r.setting and r.wall]:
        rate = q2.subjects / q2.wall
        rss = q2.rss_gib if q2.rss_gib is not None else float("nan")
        out.append(f"* T2 ({q2.setting}): {rate:,.0f} patients/s (>= {TARGET_T2_RATE:,.0f}), peak RSS {rss:.2f} GiB "
                   f"(< {TARGET_T2_RSS_GIB:g}): {verdict(rate >= TARGET_T2_RATE and rss < TARGET_T2_RSS_GIB)}; "
                   f"{q2.subjects / q2.cpu:,.0f} patients per CPU-second, so about {2 * q2.subjects / q2.cpu:,.0f}/s "
                   "on two idle cores")
    t3 = [r for r in rows if r.task == "T3" and r.tool.startswith("qsp") and r.wall is not None]
    if t3:
        best = min(t3, key=lambda r: r.wall)
        ok_err = best.error_vs_ref <= TARGET_T3_ERR
        out.append(f"* T3: fastest qsp gradient ({best.tool}) {_time(best.wall)} wall, {_time(best.cpu)} CPU "
                   f"(<= {TARGET_T3_MS:g} ms): {verdict(best.wall * 1e3 <= TARGET_T3_MS)} on wall time, "
                   f"{verdict(best.cpu * 1e3 <= TARGET_T3_MS)} on CPU time; error {best.error_vs_ref:.1e} vs the "
                   f"sensitivity oracle (<= {TARGET_T3_ERR:g}): {verdict(ok_err)}")
    q4 = _find(rows, "T4", "qsp jit", "defaults")
    if q4:
        rr = _find(rows, "T4", "libRoadRunner")
        beside = f"; libRoadRunner in this run {_time(rr.wall)} wall, {_time(rr.cpu)} CPU" if rr else ""
        out.append(f"* T4: qsp jit with default options {_time(q4.wall)} wall, {_time(q4.cpu)} CPU "
                   f"(<= {TARGET_T4_MS:g} ms{beside}): {verdict(q4.wall * 1e3 <= TARGET_T4_MS)} on wall time, "
                   f"{verdict(q4.cpu * 1e3 <= TARGET_T4_MS)} on CPU time")
    return out + _targets_t5_t6(rows, verdict)


def _targets_t5_t6(rows, verdict) -> list[str]:
    out = []
    group = f"T5 {TARGET_T5_STATES} states"
    q5 = _find(rows, group, "qsp jit")
    if q5 and q5.first is not None:
        rr = _find(rows, group, "libRoadRunner")
        beside = f"; libRoadRunner in this run {_time(rr.wall)} wall, {_time(rr.cpu)} CPU" if rr else ""
        out.append(f"* T5 {TARGET_T5_STATES} states: qsp.compile + first call {_time(q5.first)} (<= "
                   f"{TARGET_T5_COMPILE_S:g} s): {verdict(q5.first <= TARGET_T5_COMPILE_S)}; per simulation "
                   f"{_time(q5.wall)} wall, {_time(q5.cpu)} CPU (<= {TARGET_T5_MS:g} ms{beside}): "
                   f"{verdict(q5.wall * 1e3 <= TARGET_T5_MS)} on wall time, {verdict(q5.cpu * 1e3 <= TARGET_T5_MS)} "
                   "on CPU time")
    elif any(r.task == "T5" for r in rows):
        out.append(f"* T5: the {TARGET_T5_STATES}-state network was not measured in this run (its targets: compile "
                   f"<= {TARGET_T5_COMPILE_S:g} s, <= {TARGET_T5_MS:g} ms per simulation)")
    t6 = [r for r in rows if r.task == "T6" and r.tool.startswith("qsp") and r.wall is not None]
    if t6:
        best = min(t6, key=lambda r: r.wall)
        out.append(f"* T6: fastest qsp dose-time gradient ({best.tool}) {_time(best.wall)} wall, {_time(best.cpu)} CPU "
                   f"(<= {TARGET_T6_MS:g} ms): {verdict(best.wall * 1e3 <= TARGET_T6_MS)} on wall time, "
                   f"{verdict(best.cpu * 1e3 <= TARGET_T6_MS)} on CPU time; error {best.error_vs_ref:.1e} vs the "
                   f"sensitivity oracle (<= {TARGET_T6_ERR:g}): {verdict(best.error_vs_ref <= TARGET_T6_ERR)}")
    return out
