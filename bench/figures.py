"""How the benchmarks print a figure: its median and p95 beside a baseline measured in the same run."""

from __future__ import annotations

import statistics


def p95(figures: list[float]) -> float:
    ordered = sorted(figures)
    return ordered[max(int(len(ordered) * 0.95) - 1, 0)]


def line(name: str, figures: list[float], baseline: list[float], target: str) -> None:
    print(f"{name:<10} median {statistics.median(figures):7.1f} ms  p95 {p95(figures):7.1f} ms   "
          f"baseline median {statistics.median(baseline):6.1f} ms   target {target}")
