#!/usr/bin/env python
"""Every benchmark of bench/ in one command, and one table of its figures.

Run from the repository root:

    UV_PYTHON_DOWNLOADS=never uv run python bench/run_all.py --quick   # small sizes, < 5 min
    UV_PYTHON_DOWNLOADS=never uv run python bench/run_all.py           # full sizes, on demand
    UV_PYTHON_DOWNLOADS=never uv run python bench/run_all.py --quick --only store_relay,gate

Each script runs as its own process, one after the other, against one Kafka and PostgreSQL
(the servers named by CORDON_KAFKA_BOOTSTRAP and CORDON_DATABASE_URL when both are set,
otherwise a private pair started here and stopped at the end), exported to the scripts.
Their results (JSON) give each figure and the raw baseline measured in the same run; the
table puts them beside the ratio, the target (issue #16) and whether it was met.

Exit status 1 when a script failed (its own checks: a scan or delivery lost or doubled, a
time limit hit) or a figure fell past its floor, unless other programs used CROWDED_CORES
(1 of the 2 cores) or more meanwhile. Floors sit well under the targets, at half
or less of the lowest of four quick runs on the shared 2-core machine (2026-12-03, other
programs using 0.5-1.7 cores): a quick run's baselines last a fraction of a second and vary
up to threefold, so only a real regression trips them, not a busy host. A missed target
alone does not fail the run.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness import CpuMeter, host_facts, listening_processes, save_results, say

from cordon_devenv.infra import temporary_infrastructure

BENCH_DIR = Path(__file__).resolve().parent

CROWDED_CORES = 1.0
"""Cores used by other programs during a script at which its floors no longer count: with
half of the 2-core machine taken, a service gets a fraction of the CPU its baseline got a
moment before, and a quick run's ratios fell to a third (the table still shows them)."""

Results = dict[str, Any]


@dataclass(frozen=True)
class Floor:
    """The least a figure may show before the run fails: ``limit`` on its ratio (``on`` =
    "ratio") or value (``on`` = "value"); ``most`` for figures where lower is better."""

    limit: float
    on: str = "ratio"
    most: bool = False

    def holds(self, figure: Figure) -> bool | None:
        seen = figure.ratio if self.on == "ratio" else figure.value
        if seen is None or math.isnan(seen):
            return None
        return seen <= self.limit if self.most else seen >= self.limit

    def text(self, unit: str) -> str:
        sign = "<=" if self.most else ">="
        return f"{sign} {self.limit:g}{'x' if self.on == 'ratio' else ' ' + unit}"


@dataclass(frozen=True)
class Figure:
    """One line of the table: a figure, its same-run baseline, and what it is held to."""

    bench: str
    name: str
    value: float | None
    unit: str
    baseline: float | None = None
    baseline_what: str = ""
    ratio: float | None = None
    target: str = "-"
    met: bool | None = None  # None: no target, or not measured
    floor: Floor | None = None
    note: str = ""

    @property
    def within_floor(self) -> bool | None:
        return None if self.floor is None else self.floor.holds(self)


def ratio_of(value: float | None, baseline: float | None) -> float | None:
    if value is None or not baseline:
        return None
    return value / baseline


def dig(data: Any, *path: str | int) -> Any:
    """``data[path[0]][path[1]]...``, or None where a step is missing."""
    for step in path:
        try:
            data = data[step]
        except (KeyError, IndexError, TypeError):
            return None
    return data


# ------------------------------------------------------------------- figures per script


def store_relay_figures(r: Results, _out: str) -> list[Figure]:
    metrics = {m["key"]: m for m in r.get("metrics", [])}
    out = []
    for key, label, floor, peer_floor in (
        ("append_single", "store append, 1 event/append, 4 writers", 0.1, 0.4),
        ("append_batch", "store append, 100 events/append, 4 writers", 0.2, 0.55),
    ):
        m = metrics.get(key, {})
        cordon, raw = m.get("cordon_events_per_s"), m.get("raw_events_per_s")
        marks = _marks(m)
        ratio = ratio_of(cordon, raw)
        out.append(
            Figure(
                "store_relay", label, cordon, "events/s", raw, "raw asyncpg INSERT", ratio,
                ">= 0.8x raw", None if ratio is None else ratio >= 0.8, Floor(floor), marks,
            )
        )  # fmt: skip
        peer = m.get("peer_events_per_s")
        ratio = ratio_of(cordon, peer)
        out.append(
            Figure(
                "store_relay", f"{label} vs pyeventsourcing", cordon, "events/s", peer,
                "pyeventsourcing insert_events", ratio, ">= 2x peer",
                None if ratio is None else ratio >= 2.0, Floor(peer_floor), marks,
            )
        )  # fmt: skip
    m = metrics.get("relay", {})
    cordon, raw = m.get("cordon_events_per_s"), m.get("raw_events_per_s")
    ratio = ratio_of(cordon, raw)
    out.append(
        Figure(
            "store_relay", "relay to Kafka (batch 1,000, acks=all)", cordon, "events/s", raw,
            "bare aiokafka producer", ratio, ">= 0.9x producer",
            None if ratio is None else ratio >= 0.9, Floor(0.3),
            _marks(m),
        )
    )  # fmt: skip
    return out


def _marks(metric: dict[str, Any]) -> str:
    return (" [disturbed]" if _disturbed(metric) else "") + (
        " [truncated]" if metric.get("truncated") else ""
    )


def _disturbed(metric: dict[str, Any]) -> bool:
    """Every run of one side was disturbed by other programs (bench_store_relay's mark)."""
    sides = [metric.get(f"{s}_runs") or [] for s in ("cordon", "raw", "peer")]
    return any(
        side and all((run.get("other_programs_cores") or 0) >= 0.3 for run in side)
        for side in sides
    )


def projector_figures(r: Results, _out: str) -> list[Figure]:
    rebuild = r.get("rebuild") or {}
    rate = rebuild.get("events_per_s")
    raw = dig(r, "raw", "records_per_s")
    ratio = ratio_of(rate, raw)
    lag = r.get("lag") or []
    p99s = [dig(p, "lag_ms", "p99") for p in lag if dig(p, "lag_ms", "p99") is not None]
    worst = max(p99s) if p99s else None
    rates = ", ".join(f"{p.get('rate_per_s', '?'):g}" for p in lag)
    return [
        Figure(
            "projector", "projection rebuild", rate, "events/s", None, "", None,
            ">= 30,000 events/s", None if rate is None else rate >= 30_000,
            Floor(3_000, on="value"),
        ),
        Figure(
            "projector", "projection rebuild vs raw Kafka read", rate, "events/s", raw,
            "plain aiokafka read", ratio, ">= 0.45x raw read",
            None if ratio is None else ratio >= 0.45, Floor(0.03),
        ),
        Figure(
            "projector", "scan-to-dashboard lag p99", worst, "ms", None, "", None,
            "< 1,000 ms", None if worst is None else worst < 1000,
            Floor(5_000, on="value", most=True), f"at {rates} scans/s" if rates else "",
        ),
    ]  # fmt: skip


def gate_figures(r: Results, _out: str) -> list[Figure]:
    res = r.get("results") or {}
    single = res.get("single") or {}
    p99 = dig(single, "latency_ms", "p99")
    kafka = res.get("kafka") or {}
    scans = kafka.get("steady_scans_s") or kafka.get("e2e_scans_s")
    raw = dig(res, "raw", "rows_s")
    ratio = ratio_of(scans, raw)
    return [
        Figure(
            "gate", "gate Kafka feed, scans/s (steady)", scans, "scans/s", raw,
            "asyncpg insert of the outcome rows", ratio, ">= 3,000 scans/s",
            None if scans is None else scans >= 3_000, Floor(0.05),
        ),
        Figure(
            "gate", "gate single-scan p99", p99, "ms", None, "", None, "< 25 ms",
            None if p99 is None else p99 < 25, Floor(500, on="value", most=True),
            f"{single.get('rate', '?')}/s open loop, no bulk feed beside it in this script",
        ),
    ]  # fmt: skip


def notification_figures(r: Results, _out: str) -> list[Figure]:
    rate = r.get("deliveries_per_s")
    raw = dig(r, "raw_baseline", "streams_requests_per_s")
    ratio = ratio_of(rate, raw)
    return [
        Figure(
            "notification", "notification deliveries (burst)", rate, "deliveries/s", raw,
            "bare POSTs, asyncio streams", ratio, ">= 3,000 deliveries/s",
            None if rate is None else rate >= 3_000, Floor(0.015),
            f"{r.get('events', '?')} events",
        ),
    ]  # fmt: skip


def notification_paced_figures(r: Results, _out: str) -> list[Figure]:
    p50 = dig(r, "latency_ms", "p50")
    return [
        Figure(
            "notification_paced", "notification paced p50", p50, "ms", None, "", None,
            "< 15 ms", None if p50 is None else p50 < 15, Floor(1_000, on="value", most=True),
            f"{r.get('rate', '?')} events/s",
        ),
    ]  # fmt: skip


def delivery_counts(r: Results) -> list[str]:
    """What the notification benchmark counted, as a RESULT line like the other scripts'."""
    keys = ("events", "delivered", "lost", "doubled_by_source", "doubled_by_key")
    if not all(k in r for k in keys):
        return []
    return ["RESULT " + " ".join(f"{k}={r[k]}" for k in keys)]


RESIDENTS = 50_000


def registry_figures(r: Results, _out: str) -> list[Figure]:
    rate = r.get("people_per_second")
    raw = r.get("baseline_rows_per_second")
    ratio = ratio_of(rate, raw)
    people = r.get("people")
    seconds = f"{RESIDENTS / rate:.1f} s for {RESIDENTS:,}" if rate else ""
    return [
        Figure(
            "registry_import", "registry import", rate, "residents/s", raw,
            "asyncpg rows/s", ratio, f">= {RESIDENTS // 10:,}/s ({RESIDENTS:,} in < 10 s)",
            None if rate is None else rate >= RESIDENTS / 10, Floor(0.012),
            f"{people:,} residents; {seconds}" if isinstance(people, int) else seconds,
        ),
    ]  # fmt: skip


def lab_ingest_figures(r: Results, out: str) -> list[Figure]:
    rate, raw = r.get("ingest_per_s"), r.get("baseline_per_s")
    return [
        Figure(
            "lab_ingest", "lab result ingest (CSV)", rate, "results/s", raw,
            "asyncpg executemany of the rows", ratio_of(rate, raw), "-", None, Floor(0.02),
            f"{r.get('results', '?')} results",
        ),
    ]  # fmt: skip


def gc_pause_figures(_r: Results, out: str) -> list[Figure]:
    found = {
        m["label"]: float(m["median"])
        for m in re.finditer(
            r"^(?P<label>as started|after settle_heap)\s+[\d,]+\s+(?P<median>[\d.]+)",
            out,
            re.MULTILINE,
        )
    }
    after, before = found.get("after settle_heap"), found.get("as started")
    return [
        Figure(
            "gc_pause", "gate's full GC pause after settle_heap", after, "ms", before,
            "as started", ratio_of(after, before), "-",
        ),
    ]  # fmt: skip


def pages_figures(r: Results, _out: str) -> list[Figure]:
    pages = r.get("pages") or []
    worst = max((p.get("p95_ms") or 0 for p in pages), default=None)
    return [
        Figure(
            "pages", "slowest dashboard page p95", worst, "ms", None, "", None, "< 200 ms",
            None if worst is None else worst < 200,
        ),
    ]  # fmt: skip


def batch_figures(
    unit: str, one: str, many: str, key: str
) -> Callable[[Results, str], list[Figure]]:
    """A batch command's benchmark: the list's rate beside the single command's, same run."""

    def figures(r: Results, _out: str) -> list[Figure]:
        single = dig(r, "results", one, key)
        batched = dig(r, "results", many, key)
        return [
            Figure(
                unit, f"{unit} in one request, beside one request each", batched, "/s",
                single, "one request each", ratio_of(batched, single), "-", None,
                Floor(3.0),
            ),
        ]  # fmt: skip

    return figures


# --------------------------------------------------------------------------- the scripts


@dataclass(frozen=True)
class Bench:
    """One script of bench/, as this command runs it."""

    name: str
    script: str
    quick: tuple[str, ...]
    full: tuple[str, ...]
    figures: Callable[[Results, str], list[Figure]]
    json_flag: bool = True  # takes --json PATH; else its JSON is found in what it prints
    own_servers: bool = False  # starts (and stops, to inject faults) servers of its own
    not_quick: str = ""  # why --quick leaves it out
    not_run: str = ""  # why it is never run here
    counts: Callable[[Results], list[str]] | None = None  # checks its JSON holds, as lines
    timeout_quick: float = 150
    timeout_full: float = 3600


BENCHES: tuple[Bench, ...] = (
    Bench("store_relay", "bench_store_relay.py", ("--quick",), (), store_relay_figures),
    Bench("gate", "bench_gate.py", ("--quick",), (), gate_figures, json_flag=False),
    Bench(
        "projector", "bench_projector.py", ("--quick",), (), projector_figures,
        timeout_full=7200,
    ),
    Bench(
        "notification", "bench_notification.py", ("--quick",), (), notification_figures,
        json_flag=False, counts=delivery_counts,
    ),
    Bench(
        "notification_paced", "bench_notification.py", ("--events", "500", "--rate", "100"),
        ("--events", "6000", "--rate", "200"), notification_paced_figures, json_flag=False,
        counts=delivery_counts,
    ),
    Bench(
        "registry_import", "bench_registry_import.py", ("--quick",), (), registry_figures,
        json_flag=False,
    ),
    Bench(
        "lab_ingest", "bench_lab_ingest.py", ("--quick",), (), lab_ingest_figures,
        json_flag=False,
    ),
    Bench(
        "gc_pause", "bench_gc_pause.py", ("--repeat", "5"), (), gc_pause_figures,
        json_flag=False,
    ),
    Bench(
        "pages", "bench_pages.py", ("--quick",), (), pages_figures,
        not_quick="builds a district and waits for autovacuum: minutes even with --quick",
    ),
    # Full sizes only, and no figures read from them yet: the table says whether they ran
    # clean, and their own output (kept with --logs) has their figures.
    Bench(
        "faults", "bench_faults.py", (), (), lambda _r, _o: [], own_servers=True,
        not_quick="stops, pauses and restarts servers of its own for 5 minutes",
    ),
    Bench(
        "scaling", "bench_scaling.py", (), (), lambda _r, _o: [],
        not_quick="starts 1-3 processes per service: minutes even with --quick",
    ),
    Bench(
        "order_batch", "bench_order_batch.py", ("--quick",), (),
        batch_figures("orders", "one_by_one", "in_lists", "orders_per_s"),
        not_quick="CI runs it small on its own (test_bench_order_batch_smoke.py)",
    ),
    Bench(
        "pass_batch", "bench_pass_batch.py", ("--quick",), (),
        batch_figures("passes", "one_by_one", "in_batches", "passes_per_s"),
        not_quick="CI runs it small on its own (test_bench_pass_batch_smoke.py)",
    ),
    Bench(
        "vaccination_import", "bench_vaccination_import.py", ("--quick",), (),
        lambda _r, _o: [], not_quick="full sizes only here; its figures are in its output",
    ),
    Bench(
        "contacts", "bench_contacts.py", ("--quick",), (), lambda _r, _o: [],
        not_quick="loads a week of passages: full sizes only; its figures are in its output",
    ),
    Bench(
        "search", "bench_search.py", ("--quick",), (), lambda _r, _o: [], json_flag=False,
        not_quick="loads a district's search index: full sizes only; figures in its output",
    ),
    Bench(
        "districts", "bench_districts.py", ("--quick",), (), lambda _r, _o: [],
        own_servers=True,
        not_quick="starts a 3-broker cluster and 20 service processes: full sizes only",
    ),
)  # fmt: skip

NOT_MEASURED = (
    Figure(
        "-", "daily report export of 1,000,000 rows", None, "s", target="< 10 s",
        note="no benchmark script measures it yet",
    ),
)  # fmt: skip


# ------------------------------------------------------------------------------ running


@dataclass
class Outcome:
    bench: Bench
    status: int | None  # None: not run
    seconds: float = 0.0
    why_not: str = ""
    log: Path | None = None
    figures: list[Figure] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)  # the script's own RESULT lines
    others_cores: float | None = None  # CPU used by programs that were not this run's

    @property
    def crowded(self) -> bool:
        """Other programs took so much CPU that a floor missed says nothing about Cordon."""
        return self.others_cores is not None and self.others_cores >= CROWDED_CORES

    def below_floor(self) -> list[Figure]:
        return [f for f in self.figures if f.within_floor is False]


SERVER_VARIABLES = (
    "CORDON_KAFKA_BOOTSTRAP",
    "CORDON_DATABASE_URL",
    "CORDON_KAFKA_IDEMPOTENCE",
    "CORDON_TOPIC_REPLICATION",
)
"""What points a script at the shared servers (``Infrastructure.env``)."""

JSON_PATH = re.compile(r"^(?:results|wrote):? (\S+\.json)\s*$", re.MULTILINE)


def printed_json(stdout: str) -> Results:
    """The last JSON object a script printed whole (``{`` ... ``}`` on lines of their own)."""
    found: Results = {}
    start = None
    for n, line in enumerate(lines := stdout.splitlines()):
        if line == "{":
            start = n
        elif line == "}" and start is not None:
            with contextlib.suppress(json.JSONDecodeError):
                found = json.loads("\n".join(lines[start : n + 1]))
            start = None
    return found


def run_bench(
    bench: Bench, quick: bool, env: dict[str, str], run_dir: Path, servers: list[Any]
) -> Outcome:
    args = list(bench.quick if quick else bench.full)
    json_path = run_dir / f"{bench.name}.json"
    if bench.json_flag:
        args += ["--json", str(json_path)]
    if bench.own_servers:
        env = {k: v for k, v in env.items() if k not in SERVER_VARIABLES}
    log = run_dir / f"{bench.name}.log"
    command = [sys.executable, str(BENCH_DIR / bench.script), *args]
    say(f"--- {bench.name}: {' '.join(['bench/' + bench.script, *args])}")
    meter = CpuMeter(servers=servers)
    children = os.times()
    started = time.perf_counter()
    with log.open("w") as sink, meter:
        try:
            status = subprocess.run(
                command,
                cwd=BENCH_DIR.parent,
                env=env,
                stdout=sink,
                stderr=subprocess.STDOUT,
                timeout=bench.timeout_quick if quick else bench.timeout_full,
                check=False,
            ).returncode
        except subprocess.TimeoutExpired:
            status = 124
    seconds = time.perf_counter() - started
    now = os.times()
    script_cpu = (now.children_user - children.children_user) + (
        now.children_system - children.children_system
    )
    out = log.read_text(errors="replace")
    results: Results = {}
    if json_path.exists():
        results = json.loads(json_path.read_text())
    elif paths := JSON_PATH.findall(out):
        with_path = Path(paths[-1])
        if with_path.exists():
            results = json.loads(with_path.read_text())
    if not results:
        results = printed_json(out)
    try:
        figures = bench.figures(results, out)
    except Exception as error:  # a script whose output changed: say so, do not crash
        figures = []
        say(f"    could not read its figures: {error!r}")
    outcome = Outcome(
        bench,
        status,
        seconds,
        log=log,
        figures=figures,
        checks=re.findall(r"^RESULT .*$", out, re.MULTILINE)
        + (bench.counts(results) if bench.counts else []),
    )
    # Other programs' CPU: the host's minus this process, the script (with the services
    # it ran, once they exited) and the shared servers. It makes the figures less reliable.
    cores = meter.cores(digits=None)
    host, known = cores.get("host"), [cores.get("bench"), cores.get("servers")]
    if host is not None and None not in known and seconds > 0:
        outcome.others_cores = round(
            max(0.0, host - sum(k or 0.0 for k in known) - script_cpu / seconds), 2
        )
    say(
        f"    exit {status} in {seconds:.0f}s; other programs used"
        f" {outcome.others_cores if outcome.others_cores is not None else '?'} cores"
    )
    if status != 0:
        say(f"    last lines of {log}:")
        for line in out.splitlines()[-25:]:
            say(f"      {line}")
    return outcome


# ------------------------------------------------------------------------------- report


def fmt(value: float | None, unit: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if abs(value) >= 100:
        text = f"{value:,.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.2f}"
    return f"{text} {unit}".rstrip()


def table(outcomes: Sequence[Outcome]) -> str:
    head = ("figure", "value", "baseline (same run)", "ratio", "target", "met", "floor")
    rows: list[tuple[str, ...]] = []
    for o in outcomes:
        if o.status is None:
            rows.append((f"{o.bench.name}: not run ({o.why_not})", "", "", "", "", "", ""))
            continue
        if not o.figures:
            what = "ran clean" if o.status == 0 else f"FAILED (exit {o.status})"
            rows.append((f"{o.bench.name}: {what}, figures in {o.log}", "", "", "", "", "", ""))
        for f in o.figures:
            baseline = fmt(f.baseline) + (f" ({f.baseline_what})" if f.baseline_what else "")
            met = "-" if f.met is None else ("met" if f.met else "missed")
            floor = "-"
            if f.floor is not None:
                held = f.within_floor
                floor = f.floor.text(f.unit) + (
                    ""
                    if held is None
                    else " ok"
                    if held
                    else " below, crowded host"
                    if o.crowded
                    else " BELOW"
                )
            name = f.name + "".join(
                f" {part}" if part.startswith("[") else f" ({part})"
                for part in (p.strip() for p in re.findall(r"\[[^]]+\]|[^[\]]+", f.note))
                if part
            )
            if o.status != 0:
                name += f" [script exit {o.status}]"
            ratio = "-" if f.ratio is None else f"{f.ratio:.2f}x"
            rows.append((name, fmt(f.value, f.unit), baseline, ratio, f.target, met, floor))
    for f in NOT_MEASURED:
        rows.append((f"{f.name}: not measured ({f.note})", "-", "-", "-", f.target, "-", "-"))
    widths = [max(len(r[i]) for r in (head, *rows)) for i in range(len(head))]
    lines = [" | ".join(h.ljust(widths[i]) for i, h in enumerate(head))]
    lines.append("-+-".join("-" * w for w in widths))
    lines += [" | ".join(c.ljust(widths[i]) for i, c in enumerate(r)) for r in rows]
    return "\n".join(lines)


# --------------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: under 5 minutes")
    names = [b.name for b in BENCHES]
    parser.add_argument(
        "--only", default="", help=f"comma-separated, of: {','.join(names)} (default: all)"
    )
    parser.add_argument(
        "--json", type=Path, default=None, help="write results here (default bench/results/)"
    )
    parser.add_argument("--no-json", action="store_true", help="do not write a JSON file")
    parser.add_argument(
        "--logs", type=Path, default=None, help="keep each script's output and JSON here"
    )
    args = parser.parse_args(argv)
    args.only = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = set(args.only) - set(names)
    if unknown:
        parser.error(f"--only: unknown {', '.join(sorted(unknown))}; known: {', '.join(names)}")
    return args


def _interrupt(signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)  # a plain kill still stops the servers
    started = time.perf_counter()
    chosen = [b for b in BENCHES if not args.only or b.name in args.only]
    run_dir = args.logs or Path(tempfile.mkdtemp(prefix="cordon-run-all-"))
    run_dir.mkdir(parents=True, exist_ok=True)
    outcomes: list[Outcome] = []
    machine = host_facts()
    try:
        with temporary_infrastructure("run-all", report=say) as srv:
            env = {**os.environ, **srv.env(), "PYTHONUNBUFFERED": "1"}
            servers = listening_processes(srv.kafka_bootstrap, srv.database_url)
            for bench in chosen:
                why = bench.not_run or (bench.not_quick if args.quick else "")
                if why:
                    outcomes.append(Outcome(bench, None, why_not=why))
                    continue
                outcomes.append(run_bench(bench, args.quick, env, run_dir, servers))
    except KeyboardInterrupt as stop:
        say(f"interrupted ({stop or 'Ctrl-C'}); the servers started here are stopped")
        return 130
    elapsed = time.perf_counter() - started
    figures = [f for o in outcomes for f in o.figures]
    failed = [o.bench.name for o in outcomes if o.status not in (None, 0)]
    below = [f.name for o in outcomes if not o.crowded for f in o.below_floor()]
    excused = [f.name for o in outcomes if o.crowded for f in o.below_floor()]
    say("")
    say(
        f"Cordon benchmarks, {'--quick' if args.quick else 'full sizes'}:"
        f" {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {machine['cores']} cores"
        f" ({machine['cpu']}, {machine['memory_gib']} GiB), {elapsed:.0f} s in all"
    )
    say(table(outcomes))
    busy = [f"{o.bench.name} {o.others_cores:.2f}" for o in outcomes if o.others_cores is not None]
    if busy:
        say(f"cores used by other programs during each script: {', '.join(busy)}")
    for o in outcomes:
        for check in o.checks:
            say(f"{o.bench.name}: {check}")
    say(f"logs: {run_dir}")
    result = {
        "benchmark": "run_all",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join(["bench/run_all.py", *(argv if argv is not None else sys.argv[1:])]),
        "quick": args.quick,
        "seconds": round(elapsed, 1),
        "machine": machine,
        "runs": [
            {
                "bench": o.bench.name,
                "script": o.bench.script,
                "exit": o.status,
                "not_run": o.why_not or None,
                "seconds": round(o.seconds, 1),
                "other_programs_cores": o.others_cores,
                "crowded": o.crowded,
                "checks": o.checks,
                "log": str(o.log) if o.log else None,
            }
            for o in outcomes
        ],
        "figures": [
            {**asdict(f), "within_floor": f.within_floor} for f in (*figures, *NOT_MEASURED)
        ],
        "failed": failed,
        "below_floor": below,
        "below_floor_on_a_crowded_host": excused,
    }
    if not args.no_json:
        save_results(result, "run_all", quick=args.quick, path=args.json)
    if failed:
        say(f"FAILED: {', '.join(failed)} exited non-zero (see their logs)")
    if below:
        say(f"FAILED: below the floor: {'; '.join(below)}")
    if excused:
        say(
            f"not counted: below the floor while other programs used {CROWDED_CORES:.1f} cores"
            f" or more: {'; '.join(excused)}; run again on a quieter host"
        )
    return 1 if failed or below else 0


if __name__ == "__main__":
    sys.exit(main())
