"""How the benchmarks print a figure: its median and p95 beside a baseline measured in the same run."""

from __future__ import annotations

import statistics


def line(name: str, figures: list[float], baseline: list[float], target: str) -> None:
    ordered = sorted(figures)
    p95 = ordered[max(int(len(ordered) * 0.95) - 1, 0)]
    print(f"{name:<10} median {statistics.median(figures):7.1f} ms  p95 {p95:7.1f} ms   "
          f"baseline median {statistics.median(baseline):6.1f} ms   target {target}")
