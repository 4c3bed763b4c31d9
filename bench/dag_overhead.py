"""Airflow-style DAG benchmark for orkest (optionally against Apache Airflow).

Run from the repository root, with orkest installed in the running interpreter::

    python bench/dag_overhead.py                       # orkest only (~seconds)
    python bench/dag_overhead.py --peer airflow        # orkest and Airflow 3.3.2 (~10 min)
    python bench/dag_overhead.py --peer airflow --only peer   # Airflow side alone
    python bench/dag_overhead.py --quick               # smoke run with small N
    python bench/dag_overhead.py --json results.json --repeat 5

Workloads (the DAGs are written once, in ``bench/_dag_worker.py``, for both frameworks):

(a) ``define``           define a DAG of N PythonOperators in a chain
                         -> ms per 1,000 operators (target <= 50 ms)
(a') ``define_taskflow`` the same chain as N calls of one TaskFlow ``@task``
(b) ``chain``            run an N-task chain; every task pulls its predecessor's return
                         value over XCom and returns it plus one  -> time per task
(c) ``fan``              run one root, N independent middle tasks (each pulls the root's
                         value) and one join that pulls all N     -> time per task (N+2)
(d) ``plain``            orkest only: a ``@flow`` calling a ``@task`` N times in sequence,
                         passing the value along (the same chain without the DAG layer)
                         -> time per task; (b)/(d) and (c)/(d) are the DAG layer's cost
                         relative to a plain ``@task`` call (target <= 2x)

Method: every run of a workload is a fresh subprocess with a fresh home directory
(``ORKEST_HOME`` / ``AIRFLOW_HOME``).  orkest: imports and a warm-up at N=3 (the same
workload) are not timed; (a) times building the DAG, (b)-(c) the whole ``dag.test()``
call, (d) the whole flow call, divided by the number of tasks.  Airflow: (a) is timed
the same way, in the Airflow virtualenv's interpreter; (b)-(c) run ``airflow dags test``
(driven by ``bench/_airflow_cli.py``) after an untimed ``airflow db migrate`` and an
untimed warm-up ``dags test``, and the figure per task is read from Airflow's own
task-instance records: (end of the last task - end of the first task) / (tasks - 1).
The wall time of the CLI per task, and its marginal cost against a 1-task DAG, are
printed as well (see bench/README.md for why the first task is left out).  Each workload
is repeated ``--repeat`` times (default 3) and the median is reported.  The exit status
is 1 if any run failed or timed out, else 0 (missed targets do not fail it).

``--peer airflow`` creates, once, a virtualenv with ``apache-airflow==3.3.2`` under
``$XDG_CACHE_HOME/orkest-bench/`` (``~/.cache`` by default; change it with
``--peer-venv``).  Every subprocess runs in its own process group with a timeout.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import _calibration  # bench/ is on sys.path when run as a script
from overhead import (
    FRAMEWORKS,
    Framework,
    Measurement,
    RunOutcome,
    _join,
    _num,
    default_peer_venv,
    ensure_peer_venv,
    log,
    run_subprocess,
)

AIRFLOW_PACKAGE = "apache-airflow"
AIRFLOW_VERSION = "3.3.2"
WORKER = Path(__file__).resolve().with_name("_dag_worker.py")
AIRFLOW_CLI = Path(__file__).resolve().with_name("_airflow_cli.py")
WARMUP_N = 3
RATIO_TARGET = 1000.0  # orkest vs Airflow, time per task run
PLAIN_TARGET = 2.0  # DAG task vs plain @task call, orkest
LOGICAL_DATE = "2026-01-01"

AIRFLOW = Framework(
    name="airflow",
    module="airflow",
    thread_runner="",  # not used here
    task_kwargs={},
    env={
        "AIRFLOW_HOME": "{home}",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        # the default is already SQLite in AIRFLOW_HOME; spelled out so it cannot drift
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "sqlite:///{home}/airflow.db",
        "DO_NOT_TRACK": "1",
    },
    env_prefixes=("AIRFLOW_",),
)


@dataclass(frozen=True)
class Workload:
    label: str
    unit: str  # "ms/1k" (ms per 1,000 operators) or "us/task"
    target: float | None  # orkest's own target, in ``unit``
    peer: bool  # also run on Airflow
    ratio_target: float | None  # orkest vs Airflow


WORKLOADS: dict[str, Workload] = {
    "define": Workload("(a) define N PythonOperators, chained", "ms/1k", 50.0, True, None),
    "define_taskflow": Workload("(a') define N TaskFlow @task calls, chained", "ms/1k", None,
                                True, None),
    "chain": Workload("(b) run N-task chain, XCom to next", "us/task", None, True, RATIO_TARGET),
    "fan": Workload("(c) run fan-out/fan-in, 1+N+1 tasks", "us/task", None, True, RATIO_TARGET),
    "plain": Workload("(d) plain @flow -> @task x N, chained", "us/task", None, False, None),
}
# orkest's DAG task vs its plain @task call: (b)/(d) and (c)/(d)
PLAIN_RATIOS = {
    "chain": "(b)/(d) chain task vs plain @task",
    "fan": "(c)/(d) fan task vs plain @task",
}

# Default N per workload: (orkest, Airflow), normal and --quick.
DEFAULT_N: dict[str, tuple[int, int]] = {
    "define": (1_000, 200),
    "define_taskflow": (1_000, 200),
    "chain": (1_000, 100),
    "fan": (1_000, 100),
    "plain": (1_000, 0),  # N of (b) unless given
}
QUICK_N: dict[str, tuple[int, int]] = {
    "define": (200, 50),
    "define_taskflow": (200, 50),
    "chain": (200, 10),
    "fan": (200, 10),
    "plain": (200, 0),
}


# --------------------------------------------------------------------------
# Running
# --------------------------------------------------------------------------


def _with_result_file(run: Any) -> RunOutcome:
    """Call ``run(result_path)`` and load the JSON the subprocess wrote there."""
    with tempfile.NamedTemporaryFile(prefix="orkest-bench-", suffix=".json", delete=False) as f:
        result_path = Path(f.name)
    try:
        outcome = run(str(result_path))
        if outcome.error is None:
            try:
                outcome.data = json.loads(result_path.read_text())
            except (OSError, ValueError) as exc:
                outcome.error = f"worker wrote no result: {exc}"
    finally:
        result_path.unlink(missing_ok=True)
    return outcome


def run_worker(fw: Framework, python: str, workload: str, n: int, timeout: float) -> RunOutcome:
    """One run of ``_dag_worker.py`` (orkest's side, or Airflow's definition time)."""

    def run(result_path: str) -> RunOutcome:
        spec = {"framework": fw.name, "workload": workload, "n": n, "warmup": WARMUP_N,
                "result_path": result_path}
        return run_subprocess(fw, python, [str(WORKER), json.dumps(spec)], timeout)[0]

    return _with_result_file(run)


def run_dags_test(python: str, shape: str, n: int, timeout: float) -> RunOutcome:
    """One run of ``_airflow_cli.py``: migrate, warm-up, baseline and the N-task DAG."""

    def run(result_path: str) -> RunOutcome:
        spec = {"shape": shape, "n": n, "warmup": WARMUP_N, "timeout": timeout,
                "logical_date": LOGICAL_DATE, "result_path": result_path}
        return run_subprocess(AIRFLOW, python, [str(AIRFLOW_CLI), json.dumps(spec)], timeout)[0]

    return _with_result_file(run)


def figure(side: str, workload: str, data: dict[str, Any]) -> float:
    """The reported figure of one run: ms per 1,000 operators, or µs per task."""
    if workload.startswith("define"):
        return data["outer_s"] / data["n"] * 1e6  # s/op -> ms per 1,000 ops
    if side == "airflow":
        return data["main"]["steady_s"] * 1e6
    return data["outer_s"] / data["tasks"] * 1e6


def airflow_extras(data: dict[str, Any]) -> dict[str, float]:
    """The other ways to read an ``airflow dags test`` run, all in µs per task."""
    main, base = data["main"], data["baseline"]
    tasks = main["tasks"]
    return {
        "wall_per_task_us": main["wall_s"] / tasks * 1e6,
        "marginal_us": (main["wall_s"] - base["wall_s"]) / (tasks - 1) * 1e6,
        "span_per_task_us": main["tasks_span_s"] / tasks * 1e6,
        "first_task_s": main["first_task_s"],
        "main_wall_s": main["wall_s"],
        "baseline_wall_s": base["wall_s"],
        "migrate_s": data["migrate_s"],
    }


def measure_side(side: str, fw: Framework, python: str, sizes: dict[str, int],
                 args: argparse.Namespace) -> dict[str, Measurement]:
    results: dict[str, Measurement] = {}
    for key in args.workloads:
        wl = WORKLOADS[key]
        if side == "airflow" and not wl.peer:
            continue
        n = sizes[key]
        m = Measurement(side, key, n, wl.unit)
        for i in range(args.repeat):
            log(f"[{side}] {key:15s} N={n:<5d} run {i + 1}/{args.repeat} ...")
            if side == "airflow" and key in ("chain", "fan"):
                outcome = run_dags_test(python, key, n, args.timeout)
            else:
                outcome = run_worker(fw, python, key, n, args.timeout)
            if outcome.error or outcome.data is None:
                m.error = outcome.error or "no data"
                log(f"    FAILED ({outcome.wall_s:.1f} s): {m.error}")
                break  # the next runs would fail the same way
            value = figure(side, key, outcome.data)
            m.samples.append(value)
            m.extra.setdefault("runs", []).append(outcome.data)
            extra = ""
            if side == "airflow" and key in ("chain", "fan"):
                more = airflow_extras(outcome.data)
                for name, v in more.items():
                    m.extra.setdefault(name, []).append(v)
                extra = (f", CLI wall {fmt_us(more['wall_per_task_us'])}/task, "
                         f"vs 1-task DAG {fmt_us(more['marginal_us'])}/task")
            log(f"    {fmt(value, wl.unit)}{extra}  (subprocess wall {outcome.wall_s:.1f} s)")
        results[key] = m
    return results


# --------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------


def fmt_us(us: float) -> str:
    return f"{_num(us / 1e3)} ms" if us >= 1e3 else f"{_num(us)} µs"


def fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "ms/1k":  # ms per 1,000 operators is µs per operator
        return f"{_num(value)} ms/1000 ops ({fmt_us(value)}/op)"
    return f"{fmt_us(value)}/task"


def _median(m: Measurement | None, name: str) -> float | None:
    values = m.extra.get(name) if m else None
    return statistics.median(values) if values else None


def _cell(m: Measurement | None) -> str:
    if m is None:
        return ""
    if m.error:
        return "TIMEOUT" if m.error.startswith("TIMEOUT") else "FAILED"
    return fmt(m.value, m.unit)


def _paired_ratio(m: Measurement | None) -> float | None:
    """Median over runs of (DAG run time / plain chain time measured around it)."""
    runs = m.extra.get("runs", []) if m is not None and not m.error else []
    pairs = [r["outer_s"] / r["paired_plain_s"] for r in runs if r.get("paired_plain_s")]
    return statistics.median(pairs) if pairs else None


def _value(m: Measurement | None) -> float | None:
    return None if m is None or m.error else m.value


def print_report(results: dict[str, dict[str, Measurement]], peer: str | None,
                 args: argparse.Namespace) -> dict[str, dict[str, float | None]]:
    """Print the summary table; return the ratios (orkest vs Airflow, DAG vs plain)."""
    ours = results.get("orkest", {})
    theirs = results.get("airflow", {})
    header = ["workload", "N", "orkest", "target", ""]
    if peer:
        header += [f"airflow {args.peer_version}", "orkest vs airflow", f">={RATIO_TARGET:.0f}x"]
    rows: list[list[str]] = []
    ratios: dict[str, dict[str, float | None]] = {"vs_airflow": {}, "vs_plain": {}}
    for key, wl in WORKLOADS.items():
        o, p = ours.get(key), theirs.get(key)
        if o is None and p is None:
            continue
        target = ""
        if wl.target is not None:
            target = f"<= {_num(wl.target)} ms/1000 ops" if wl.unit == "ms/1k" else ""
        ok = ""
        if wl.target is not None and _value(o) is not None:
            ok = "PASS" if _value(o) <= wl.target else "MISS"
        sizes = [str(m.n) for m in (o, p) if m is not None]
        row = [wl.label, "/".join(sizes), _cell(o), target, ok]
        if peer:
            a, b = _value(o), _value(p)
            r = b / a if a and b else None
            if wl.peer:
                ratios["vs_airflow"][key] = r
            verdict = ""
            if r is not None and wl.ratio_target is not None:
                verdict = "PASS" if r >= wl.ratio_target else "MISS"
            row += [_cell(p) if wl.peer else "n/a",
                    "-" if r is None else f"{_num(r)}x less", verdict]
        rows.append(row)
    for key, label in PLAIN_RATIOS.items():
        r = _paired_ratio(ours.get(key))
        if r is None:
            continue
        ratios["vs_plain"][key] = r
        row = [label, "", f"{r:.2f}x", f"<= {PLAIN_TARGET:g}x", "PASS" if r <= PLAIN_TARGET
               else "MISS"]
        rows.append(row + ["", "", ""] if peer else row)

    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    rule = "  ".join("-" * w for w in widths)
    print()
    print(_join(header, widths))
    print(rule)
    for row in rows:
        print(_join(row, widths))
    print(rule)
    print(
        ("N is orkest/airflow.  " if peer else "")
        + f"Median of {args.repeat} run(s) per workload, each in a fresh subprocess with a "
        "fresh home dir.\n"
        f"Imports and a warm-up (the same workload at N={WARMUP_N}) are not timed.  "
        "(a) times building the DAG object\n(scaled to 1,000 operators from N).  "
        "orkest (b)-(d): the whole dag.test() / flow call, divided by the tasks.\n"
        "DAG vs plain: in each run of (b)/(c), a plain @task chain of as many tasks runs "
        "just before and after the DAG\nin the same process; the ratio is the median over "
        "runs of DAG time / mean of those two (drift-proof)."
    )
    if peer and any(k in theirs for k in ("chain", "fan")):
        print(
            "airflow (b)-(c): `airflow dags test`; per task = (end of last task - end of "
            "first task) / (tasks - 1),\nfrom Airflow's task_instance table (leaves out "
            "the first task: it starts the in-process Execution API).\n"
            f"The >={RATIO_TARGET:.0f}x aim is for running tasks; (a) has its own target."
        )
        for key in ("chain", "fan"):
            m = theirs.get(key)
            if m is None or m.error or not m.samples:
                continue
            wall, marginal = _median(m, "wall_per_task_us"), _median(m, "marginal_us")
            first, base = _median(m, "first_task_s"), _median(m, "baseline_wall_s")
            main_wall = _median(m, "main_wall_s")
            tasks = m.extra["runs"][0]["main"]["tasks"]
            print(
                f"airflow {key} ({tasks} tasks), raw: `dags test` wall {main_wall:.1f} s = "
                f"{fmt_us(wall)}/task; minus a 1-task DAG's {base:.1f} s: "
                f"{fmt_us(marginal)}/task; first task {first:.1f} s"
            )
    if "chain" in ours and not ours["chain"].error:
        define_s = [r["define_s"] for r in ours["chain"].extra.get("runs", [])]
        if define_s:
            print(f"orkest (b): defining its DAG took {statistics.median(define_s) * 1e3:.1f} ms "
                  "(not in the figure)")
    for side, res in results.items():
        for key, m in res.items():
            if m.error:
                print(f"FAILED {side} {key}: {m.error}")
    return ratios


# --------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Measure orkest's Airflow-style DAG overhead (optionally vs. Airflow).",
        epilog="See the module docstring (or bench/README.md) for what each workload does.",
    )
    p.add_argument("--peer", choices=["airflow"],
                   help=f"also run {AIRFLOW_PACKAGE}=={AIRFLOW_VERSION}")
    p.add_argument("--peer-version", default=AIRFLOW_VERSION, help=argparse.SUPPRESS)
    p.add_argument(
        "--peer-venv",
        type=Path,
        help="virtualenv for Airflow, created once "
        f"(default: ~/.cache/orkest-bench/{AIRFLOW_PACKAGE}-{AIRFLOW_VERSION})",
    )
    p.add_argument("--only", choices=["both", "orkest", "peer"], default="both",
                   help="which side(s) to run (default: both)")
    p.add_argument("--workloads", default=",".join(WORKLOADS),
                   help=f"comma-separated subset of {','.join(WORKLOADS)} (default: all)")
    p.add_argument("--quick", action="store_true", help="small N and 1 repeat: a smoke run")
    p.add_argument("--repeat", type=int, help="runs per workload (default: 3, --quick: 1)")
    p.add_argument("--timeout", type=float, default=600.0,
                   help="seconds per subprocess (default: 600)")
    p.add_argument("--json", type=Path, metavar="PATH", help="also write the figures as JSON")
    for key in WORKLOADS:
        (ours, peer), (q_ours, q_peer) = DEFAULT_N[key], QUICK_N[key]
        flag = key.replace("_", "-")
        if key == "plain":
            p.add_argument("--n-plain", type=int, metavar="N",
                           help="N for (d) (default: the N of (b))")
            continue
        p.add_argument(f"--n-{flag}", type=int, metavar="N",
                       help=f"N for {key} on orkest (default {ours}, --quick {q_ours})")
        p.add_argument(f"--peer-n-{flag}", type=int, metavar="N",
                       help=f"... on Airflow (default {peer}, --quick {q_peer})")
    args = p.parse_args(argv)

    args.workloads = [w.strip() for w in args.workloads.split(",") if w.strip()]
    unknown = set(args.workloads) - set(WORKLOADS)
    if unknown:
        p.error(f"unknown workload(s): {', '.join(sorted(unknown))}")
    if args.only == "peer" and not args.peer:
        p.error("--only peer needs --peer")
    if args.repeat is None:
        args.repeat = 1 if args.quick else 3
    if args.repeat < 1:
        p.error("--repeat must be >= 1")
    table = QUICK_N if args.quick else DEFAULT_N
    args.sizes = {
        "orkest": {k: getattr(args, f"n_{k}") or v[0] for k, v in table.items()},
        "airflow": {k: getattr(args, f"peer_n_{k}", None) or v[1] for k, v in table.items()},
    }
    if args.n_plain is None:
        args.sizes["orkest"]["plain"] = args.sizes["orkest"]["chain"]
    too_small = [k for side in args.sizes.values() for k, n in side.items() if 0 < n < 2]
    if too_small or any(n < 0 for side in args.sizes.values() for n in side.values()):
        p.error("every N must be >= 2")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)

    sides: list[tuple[str, Framework, str]] = []
    if args.only in ("both", "orkest"):
        sides.append(("orkest", FRAMEWORKS["orkest"], sys.executable))
    if args.peer and args.only in ("both", "peer"):
        venv = args.peer_venv or default_peer_venv(AIRFLOW_PACKAGE, args.peer_version)
        if not (venv / "bin" / "python").exists():
            log(f"Airflow's pip install takes about two minutes here (into {venv})")
        python = ensure_peer_venv(AIRFLOW_PACKAGE, args.peer_version, venv.expanduser().resolve())
        sides.append(("airflow", AIRFLOW, python))

    results: dict[str, dict[str, Measurement]] = {}
    for side, fw, python in sides:
        results[side] = measure_side(side, fw, python, args.sizes[side], args)

    ratios = print_report(results, args.peer, args)
    calibration = _calibration.measure()
    print(_calibration.describe(calibration))

    if args.json:
        payload = {
            "meta": {
                "date": datetime.now(UTC).isoformat(timespec="seconds"),
                "python": sys.version.split()[0],
                "platform": platform.platform(),
                "cpus": os.cpu_count(),
                "repeat": args.repeat,
                "warmup_n": WARMUP_N,
                "peer": f"{AIRFLOW_PACKAGE}=={args.peer_version}" if args.peer else None,
                "calibration_us": calibration,
            },
            "units": {"ms/1k": "ms per 1,000 operators (= µs per operator)",
                      "us/task": "µs per task"},
            "targets": {
                "define": {"value": WORKLOADS["define"].target, "unit": "ms/1k"},
                "vs_plain": {"value": PLAIN_TARGET, "unit": "x, at most"},
                "vs_airflow": {"value": RATIO_TARGET, "unit": "x, at least",
                               "workloads": ["chain", "fan"]},
            },
            "results": {
                side: {key: {**asdict(m), "value": m.value} for key, m in res.items()}
                for side, res in results.items()
            },
            "ratios": ratios,
        }
        args.json.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
        print(f"figures written to {args.json}")

    failed = any(m.error for res in results.values() for m in res.values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
