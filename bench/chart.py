"""The chart after a merge, and right-to-left drawing: each figure beside a baseline measured in the same run.

    python bench/chart.py              # a 5,000-patient demo clinic, seeded by `fieldkit demo --no-tui`

  chart     reading a whole chart (`queries.patient_record`) for a patient with four records merged
            into it (every read follows merged_into: their allergies, encounters and tasks), beside
            the same patient's chart before the merges; median and p95 of 200 reads
  rtl line  one drawn line of Arabic text through the line filter of `app` mode (column runs, mirrored
            brackets, styles kept per character), beside the bare reshape-and-reorder a screen used to
            call on each piece of text; a screen at 80x24 is 24 such lines; median of 5 rounds of 2,000
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PATIENTS = 5000
MERGED = 4
READS = 200
LINES = ("فاطمة الحسن          أ ١٩٨٨    +963944123456   حمص",
         "درجة الحرارة (C°)     ٥٢٫٠ C° قيمة غير ممكنة (المسموح ٢٥–٤٥ C°)",
         "زهرا سلیمانی         أ ١٩٨٨    قم           │  ٢٠٢٦/١١/٣٠  مصطفی طاهری")


def clinic(folder: Path):
    env = {**os.environ, "FIELDKIT_HOME": str(folder)}
    subprocess.run([sys.executable, "-m", "fieldkit", "demo", "--no-tui", "--patients", str(PATIENTS)], env=env,
                   check=True, capture_output=True)
    from fieldkit.store.home import Home
    from fieldkit.store.session import unlock

    return unlock(Home(folder), "demo", "demo-clinic-2026")


def timed_reads(store, patient_id: str) -> list[float]:
    from fieldkit.records import queries

    out = []
    for _ in range(READS):
        started = time.perf_counter()
        store.read(lambda conn: queries.patient_record(conn, patient_id))
        out.append((time.perf_counter() - started) * 1e3)
    return sorted(out)


def chart() -> None:
    from fieldkit.records.services import Clinic

    with tempfile.TemporaryDirectory() as folder:
        store, user = clinic(Path(folder))
        with store:
            ids = store.read(lambda conn: [row[0] for row in conn.execute(
                "SELECT patient_id FROM encounters GROUP BY patient_id HAVING count(*) >= 2 LIMIT ?", (MERGED + 1,))])
            survivor, *duplicates = ids
            before = timed_reads(store, survivor)
            for duplicate in duplicates:
                Clinic(store, user).merge(duplicate, survivor)
            after = timed_reads(store, survivor)
    p95 = int(READS * 0.95)
    print(f"chart     {MERGED} records merged in: median {statistics.median(after):.2f} ms, p95 {after[p95]:.2f} ms"
          f"   | baseline, before the merges: median {statistics.median(before):.2f} ms, p95 {before[p95]:.2f} ms")


def rtl_line() -> None:
    from bidi import get_display
    from rich.segment import Segment
    from rich.style import Style

    from fieldkit.tui import rtl

    styled = [[Segment(line[:20], Style(bold=True)), Segment(line[20:])] for line in LINES]

    def rounds(job) -> float:
        times = []
        for _ in range(5):
            started = time.perf_counter()
            for _ in range(2000 // len(LINES)):
                for line, segments in zip(LINES, styled, strict=True):
                    job(line, segments)
            times.append((time.perf_counter() - started) * 1e6 / (2000 // len(LINES) * len(LINES)))
        return statistics.median(times)

    filtered = rounds(lambda _line, segments: rtl.laid_out(segments, "app"))
    bare = rounds(lambda line, _segments: get_display(rtl._reshaper().reshape(line)))
    print(f"rtl line  through the line filter: {filtered:.0f} µs a line, {filtered * 24 / 1000:.2f} ms a 24-line screen"
          f"   | baseline, bare reshape and reorder: {bare:.0f} µs a line")


if __name__ == "__main__":
    chart()
    rtl_line()
