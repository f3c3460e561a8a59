#!/usr/bin/env python
"""How long the cyclic garbage collector pauses a service: a full collection of the gate's
heap as it stands after start-up (its modules, models, FastAPI app and runtime built),
before and after ``cordon_core.http.settle_heap`` (what ``serve`` does once running).

    UV_PYTHON_DOWNLOADS=never uv run python bench/bench_gc_pause.py

No servers needed: nothing connects. Prints the objects a full collection walks and its
time (median and max of --repeat collections), before and after, and the ratio.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import time

from cordon_core.http import settle_heap
from cordon_gate.bootstrap import build
from cordon_gate.entrypoints.http import create_app


def full_collections(repeat: int) -> list[float]:
    took = []
    for _ in range(repeat):
        started = time.perf_counter()
        gc.collect()
        took.append((time.perf_counter() - started) * 1000)
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args()
    create_app(build())
    rows = []
    for label in ("as started", "after settle_heap"):
        if label == "after settle_heap":
            settle_heap()
        took = full_collections(args.repeat)
        rows.append((label, len(gc.get_objects()), statistics.median(took), max(took)))
    print(f"{'heap':<20} {'objects walked':>15} {'median ms':>10} {'max ms':>8}")
    for label, objects, median, worst in rows:
        print(f"{label:<20} {objects:>15,} {median:>10.2f} {worst:>8.2f}")
    print(f"ratio (after / as started, median): {rows[1][2] / rows[0][2]:.3f}")
    print(f"load average: {[round(x, 2) for x in os.getloadavg()]}")


if __name__ == "__main__":
    main()
