"""``spikeforge bench``: every figure spikeforge claims, measured in one run.

``run(plan, out)`` measures the sections in order (``measure``), writing each row to
``out/bench.jsonl`` as it is measured (the file is complete when the run ends: written to a
temporary name and renamed), then ``report.write`` turns the rows into ``benchmarks.md`` and
its PNG plots.
"""

from __future__ import annotations

import json
import os
import platform
import tempfile
import time
from pathlib import Path

from ..golden.files import atomic_write
from . import measure
from .measure import BenchError, Plan

__all__ = ["BenchError", "Plan", "SECTIONS", "run"]

#: The sections, in the order they run.
SECTIONS = ("throughput", "workloads", "accuracy", "software", "boards", "peers")


def run(plan: Plan, out: Path, *, sections=SECTIONS, qtdb=None, builds=None,
        say=print) -> list[dict]:
    """Measure ``sections`` and write ``out/bench.jsonl``; the rows, the run's own first.
    Board builds go to ``builds`` (default: a temporary folder; the build cache keeps
    every bitstream anyway)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    # complete or absent: the rows go to a temporary file renamed into place at the end
    with atomic_write(out / "bench.jsonl", "benchmark rows") as fh, \
            tempfile.TemporaryDirectory(prefix="spikeforge-bench-") as tmp:
        return _measure(plan, sections, qtdb, say, fh, start,
                        Path(builds) if builds else Path(tmp))


def _measure(plan, sections, qtdb, say, fh, start, builds):
    rows: list[dict] = []

    def keep(new):
        for row in new:
            rows.append(row)
            fh.write((json.dumps(row) + "\n").encode())
        fh.flush()

    data = measure.load_workloads(plan, qtdb, say) \
        if {"workloads", "accuracy", "software", "boards"} & set(sections) else {}
    dense: list[dict] = []
    for section in sections:
        t0 = time.perf_counter()
        if section == "throughput":
            dense = measure.throughput(plan, say)
            keep(dense)
        elif section == "workloads":
            keep(measure.workloads(plan, data, say))
        elif section == "accuracy":
            keep(measure.accuracy_vs_bits(plan, data, say))
        elif section == "software":
            keep(measure.software(plan, data, say))
        elif section == "boards":
            keep(measure.boards(plan, dense, data, builds, say))
        elif section == "peers":
            keep(measure.peer_rows())
        else:
            raise ValueError(f"unknown section {section!r}; choose from {', '.join(SECTIONS)}")
        say(f"bench: {section} done in {time.perf_counter() - t0:.0f} s")
    meta = {"section": "run", "measure": "this run", "quick": plan.quick,
            "sections": list(sections), "seconds": round(time.perf_counter() - start, 1),
            "cpu_count": os.cpu_count(), "machine": platform.machine(),
            "python": platform.python_version(), "date": time.strftime("%Y-%m-%d")}
    fh.write((json.dumps(meta) + "\n").encode())
    return [meta, *rows]
