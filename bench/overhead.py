"""Orchestration-overhead benchmark for orkest (optionally against Prefect).

Run from the repository root, with orkest installed in the running interpreter::

    python bench/overhead.py                     # orkest only
    python bench/overhead.py --peer prefect      # orkest and Prefect 3.9.1
    python bench/overhead.py --peer prefect --only peer   # Prefect side alone
    python bench/overhead.py --quick             # smoke run with small N
    python bench/overhead.py --json results.json --repeat 5

What it measures, all with trivial tasks (``noop(x) -> x``) so that only the
framework's own overhead is timed:

(a) ``seq``    one flow calling a task N times in sequence -> µs per task call
               (state tracking on, results persisted; the peak RSS of this
               process is reported as well)
(b) ``submit`` N ``task.submit()`` calls on the thread-pool runner, then
               ``.result()`` on every future                 -> tasks/s
(c) ``map``    ``task.map()`` over N items on the thread-pool runner, then
               ``.result()`` on every future                 -> tasks/s
(d) ``flow``   N calls of an empty flow                      -> ms per flow run
(e) ``import`` ``import orkest`` plus access to ``orkest.flow`` / ``orkest.task``
               in a fresh interpreter (median of several; the bare import is
               kept in the JSON as ``bare_import_ms``)

Method: every run of a workload is a fresh subprocess with a fresh temporary
home directory (``ORKEST_HOME`` / ``PREFECT_HOME``), so the state database,
import time and peak RSS are clean.  Before timing, the workload is run once
at a tiny size (warm-up: N=3 tasks, or 3 empty flows for (d)); this also
starts Prefect's ephemeral API server.  Imports and the warm-up are excluded.
The clock runs around the whole workload: for (a)-(c) the one flow call,
including its start and finish, because work a framework defers to the end
of the flow (orkest flushes its batched state/result writes there) is part of
the per-task cost; divided by N.  The time inside the flow body alone is kept
in the JSON as ``inner_s`` and printed below the table (it leaves out the
flow's start/finish, which for a slow peer at small N is a large share; see
bench/README.md).  Each workload is repeated
``--repeat`` times (default 3) and the median is reported.  The exit status is
1 if any run failed or timed out, else 0 (missed targets do not fail it).

The workloads are written once, in ``bench/_overhead_worker.py`` (kept apart
and limited to light stdlib modules so the harness barely adds to the RSS it
measures); the only per-framework differences are data in :data:`FRAMEWORKS`
(module name, thread-runner class, task options and environment).

``--peer prefect`` creates, once, a virtualenv with ``prefect==3.9.1`` under
``$XDG_CACHE_HOME/orkest-bench/`` (``~/.cache`` by default; change it with
``--peer-venv``) and runs the same workloads there with smaller N, using
Prefect's default local setup: an ephemeral API server subprocess backed by
SQLite in the temporary home, with analytics off.  Every subprocess has a
timeout (``--timeout``); a failing or timed-out side is reported, not fatal.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import _calibration  # bench/ is on sys.path when run as a script

# --------------------------------------------------------------------------
# Frameworks and workloads (shared by the parent and the workers)
# --------------------------------------------------------------------------

PREFECT_VERSION = "3.9.1"
WORKER = Path(__file__).resolve().with_name("_overhead_worker.py")
WARMUP_N = 3
RATIO_TARGET = 100.0


@dataclass(frozen=True)
class Framework:
    """Everything that differs between the frameworks under test."""

    name: str
    module: str  # what ``import`` measures; must export ``flow`` and ``task``
    thread_runner: str  # "module:Class" of the thread-pool task runner
    task_kwargs: dict[str, Any]  # options for ``@task(...)``
    env: dict[str, str]  # extra environment; "{home}" is the fresh temp dir
    env_prefixes: tuple[str, ...]  # inherited variables dropped from the env


FRAMEWORKS: dict[str, Framework] = {
    "orkest": Framework(
        name="orkest",
        module="orkest",
        thread_runner="orkest.runners:ThreadPoolRunner",
        task_kwargs={},  # state tracking and result persistence are the default
        env={"ORKEST_HOME": "{home}"},
        env_prefixes=("ORKEST_",),
    ),
    "prefect": Framework(
        name="prefect",
        module="prefect",
        thread_runner="prefect.task_runners:ThreadPoolTaskRunner",
        task_kwargs={"persist_result": True},
        env={
            "PREFECT_HOME": "{home}",
            # default local setup: an ephemeral API server on 127.0.0.1
            # (the default profile's setting, spelled out here) with SQLite
            "PREFECT_SERVER_EPHEMERAL_ENABLED": "true",
            "PREFECT_API_DATABASE_CONNECTION_URL": "sqlite+aiosqlite:///{home}/prefect.db",
            # no telemetry / analytics, nothing leaves the machine
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_CLOUD_ENABLE_ORCHESTRATION_TELEMETRY": "false",
            "DO_NOT_TRACK": "1",
        },
        env_prefixes=("PREFECT_",),
    ),
}


@dataclass(frozen=True)
class Metric:
    """One reported figure: a workload's result, or the peak RSS of (a)."""

    label: str
    unit: str
    higher_is_better: bool
    target: float | None  # orkest's own target, in ``unit``
    ratio_word: str = "faster"


METRICS: dict[str, Metric] = {
    "seq": Metric("(a) sequential task call", "µs/task", False, 50.0),
    "rss": Metric("(e) peak RSS of (a)", "MB", False, None, "smaller"),
    "submit": Metric("(b) .submit() x N, thread runner", "tasks/s", True, 15_000.0),
    "map": Metric("(c) .map() over N, thread runner", "tasks/s", True, 15_000.0),
    "flow": Metric("(d) empty flow run", "ms/flow", False, 2.0),
    "import": Metric("(e) import + flow/task", "ms", False, 150.0),
}
WORKLOADS = ("seq", "submit", "map", "flow", "import")  # what can be run

# Default N per workload: (orkest, peer), normal and --quick.
DEFAULT_N: dict[str, tuple[int, int]] = {
    "seq": (1_000, 100),
    "submit": (10_000, 300),
    "map": (10_000, 300),
    "flow": (200, 10),
}
QUICK_N: dict[str, tuple[int, int]] = {
    "seq": (200, 20),
    "submit": (1_000, 50),
    "map": (1_000, 50),
    "flow": (20, 3),
}


# (e): ``import X`` and then touching ``X.flow`` / ``X.task``, because a package
# may import lazily (Prefect does), so the bare import alone would flatter it.
IMPORT_SNIPPET = (
    "import time as _t\n"
    "_s = _t.perf_counter()\n"
    "import {module} as _m\n"
    "_b = _t.perf_counter() - _s\n"
    "_m.flow, _m.task\n"
    "print('IMPORT_S', _t.perf_counter() - _s, _b)\n"
)


# --------------------------------------------------------------------------
# Parent side: subprocess management, aggregation, reporting
# --------------------------------------------------------------------------


@dataclass
class RunOutcome:
    data: dict[str, Any] | None = None
    error: str | None = None
    wall_s: float = 0.0


@dataclass
class Measurement:
    side: str
    workload: str
    n: int | None
    unit: str
    samples: list[float] = field(default_factory=list)
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def value(self) -> float | None:
        return statistics.median(self.samples) if self.samples else None


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return "\n".join(text[-lines:])


def run_subprocess(
    fw: Framework, python: str, args: Sequence[str], timeout: float
) -> tuple[RunOutcome, str]:
    """Run ``python *args`` in a new session with a fresh home; return (outcome, stdout)."""
    home = Path(tempfile.mkdtemp(prefix=f"orkest-bench-{fw.name}-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(fw.env_prefixes)}
    env.update({k: v.format(home=home) for k, v in fw.env.items()})
    env["PYTHONUNBUFFERED"] = "1"
    # A pip-installed package ships bytecode; an editable checkout only gets it if the
    # warm-up may write it. Without this, every timed import recompiles orkest's source.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    stdout_path, stderr_path = home / "stdout.log", home / "stderr.log"
    outcome = RunOutcome()
    stdout = ""
    start = time.perf_counter()
    try:
        with stdout_path.open("wb") as so, stderr_path.open("wb") as se:
            proc = subprocess.Popen(
                [python, *args],
                env=env,
                cwd=home,
                stdin=subprocess.DEVNULL,
                stdout=so,
                stderr=se,
                start_new_session=True,  # own process group: children die with it
            )
            try:
                rc = proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                rc = None
                _kill_group(proc.pid)
                proc.wait()
            _kill_group(proc.pid)  # leftovers, e.g. an ephemeral API server
        outcome.wall_s = time.perf_counter() - start
        stdout = stdout_path.read_text(errors="replace")
        if rc is None:
            outcome.error = f"TIMEOUT after {timeout:.0f} s"
        elif rc != 0:
            last = _tail(stderr_path, 1) or _tail(stdout_path, 1)
            outcome.error = f"exit code {rc}: {last}"
            log(f"    --- stderr tail ---\n{_tail(stderr_path)}\n    -------------------")
    finally:
        shutil.rmtree(home, ignore_errors=True)
    return outcome, stdout


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def run_workload_once(
    fw: Framework, python: str, workload: str, n: int, timeout: float
) -> RunOutcome:
    with tempfile.NamedTemporaryFile(prefix="orkest-bench-", suffix=".json", delete=False) as f:
        result_path = Path(f.name)
    spec = {
        "module": fw.module,
        "thread_runner": fw.thread_runner,
        "task_kwargs": fw.task_kwargs,
        "workload": workload,
        "n": n,
        "warmup": WARMUP_N,
        "result_path": str(result_path),
    }
    try:
        outcome, _ = run_subprocess(fw, python, [str(WORKER), json.dumps(spec)], timeout)
        if outcome.error is None:
            try:
                outcome.data = json.loads(result_path.read_text())
            except (OSError, ValueError) as exc:
                outcome.error = f"worker wrote no result: {exc}"
    finally:
        result_path.unlink(missing_ok=True)
    return outcome


def figure(workload: str, n: int, seconds: float) -> float:
    """The reported figure for N units of ``workload`` that took ``seconds``."""
    if workload == "seq":
        return seconds / n * 1e6
    if workload in ("submit", "map"):
        return n / seconds
    if workload == "flow":
        return seconds / n * 1e3
    raise ValueError(workload)


def measure_side(
    side: str, fw: Framework, python: str, sizes: dict[str, int], args: argparse.Namespace
) -> dict[str, Measurement]:
    results: dict[str, Measurement] = {}
    for key in args.workloads:
        wl = METRICS[key]
        if key == "import":
            results[key] = measure_import(side, fw, python, args)
            continue
        m = Measurement(side, key, sizes[key], wl.unit)
        rss = Measurement(side, "rss", sizes[key], METRICS["rss"].unit) if key == "seq" else None
        for i in range(args.repeat):
            log(f"[{side}] {key:6s} N={sizes[key]:<6d} run {i + 1}/{args.repeat} ...")
            outcome = run_workload_once(fw, python, key, sizes[key], args.timeout)
            if outcome.error or outcome.data is None:
                m.error = outcome.error or "no data"
                log(f"    FAILED ({outcome.wall_s:.1f} s): {m.error}")
                break  # the next runs would fail the same way
            value = figure(key, outcome.data["n"], outcome.data["outer_s"])
            m.samples.append(value)
            m.extra.setdefault("runs", []).append(outcome.data)
            log(f"    {fmt(value, wl.unit)}  (subprocess wall {outcome.wall_s:.1f} s)")
            if rss is not None:
                rss.samples.append(outcome.data["rss_peak_kb"] / 1024)
                rss.extra.setdefault("children_mb", []).append(
                    outcome.data["children_rss_peak_kb"] / 1024
                )
        results[key] = m
        if rss is not None:
            rss.error = m.error if not rss.samples else None
            results["rss"] = rss
    return results


def measure_import(side: str, fw: Framework, python: str, args: argparse.Namespace) -> Measurement:
    m = Measurement(side, "import", None, METRICS["import"].unit)
    code = IMPORT_SNIPPET.format(module=fw.module)
    # one discarded run first, so that byte-code compilation is not measured
    for i in range(args.import_repeat + 1):
        what = "warm-up" if i == 0 else f"run {i}/{args.import_repeat}"
        log(f"[{side}] import {what} ...")
        outcome, stdout = run_subprocess(fw, python, ["-c", code], args.timeout)
        if outcome.error is None:
            found = [ln.split()[1:] for ln in stdout.splitlines() if ln.startswith("IMPORT_S ")]
            if found:
                if i:
                    m.samples.append(float(found[-1][0]) * 1e3)
                    m.extra.setdefault("bare_import_ms", []).append(float(found[-1][1]) * 1e3)
                continue
            outcome.error = "no timing printed"
        m.error = outcome.error
        log(f"    FAILED: {m.error}")
        break
    return m


# --------------------------------------------------------------------------
# Peer virtualenv
# --------------------------------------------------------------------------

MARKER = ".orkest-bench-ok"


def default_peer_venv(peer: str, version: str) -> Path:
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "orkest-bench" / f"{peer}-{version}"


def ensure_peer_venv(peer: str, version: str, venv: Path, extras: tuple[str, ...] = ()) -> str:
    """Create (once) a virtualenv with ``peer==version`` and `extras`; return its python."""
    python = venv / "bin" / "python"
    marker = venv / MARKER
    wanted = " ".join((f"{peer}=={version}", *extras))
    if marker.exists() and marker.read_text().strip() == wanted and python.exists():
        return str(python)
    if venv.exists():
        if not marker.exists():
            raise SystemExit(
                f"{venv} exists but was not created by this script; "
                "remove it or pass another --peer-venv"
            )
        shutil.rmtree(venv)
    log(f"creating {venv} with {wanted} (one-time, may take a minute) ...")
    venv.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    (venv / MARKER).write_text("incomplete\n")
    install_log = venv / "pip-install.log"
    with install_log.open("wb") as out:
        rc = subprocess.call(
            [str(python), "-m", "pip", "install", *wanted.split()],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    if rc != 0:
        raise SystemExit(f"pip install {wanted} failed; see {install_log}")
    marker.write_text(f"{wanted}\n")
    return str(python)


# --------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------


def _num(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def fmt(value: float | None, unit: str, per_task: bool = True) -> str:
    if value is None:
        return "-"
    if unit == "tasks/s" and per_task:
        ms = 1e3 / value
        each = f"{_num(ms)} ms" if ms >= 1 else f"{_num(ms * 1e3)} µs"
        return f"{_num(value)} tasks/s ({each}/task)"
    return f"{_num(value)} {unit}"


def verdict(value: float | None, metric: Metric) -> str:
    if value is None or metric.target is None:
        return ""
    ok = value >= metric.target if metric.higher_is_better else value <= metric.target
    return "PASS" if ok else "MISS"


def advantage(ours: Measurement | None, peer: Measurement | None, metric: Metric) -> float | None:
    """How many times better orkest is than the peer (faster, more tasks/s, smaller)."""
    a = ours.value if ours else None
    b = peer.value if peer else None
    if a is None or b is None or a <= 0 or b <= 0:
        return None
    return a / b if metric.higher_is_better else b / a


def _cell(m: Measurement | None, unit: str) -> str:
    if m is None:
        return ""
    if m.error:
        return "TIMEOUT" if m.error.startswith("TIMEOUT") else "FAILED"
    return fmt(m.value, unit)


def _join(cells: list[str], widths: list[int]) -> str:
    return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()


def print_report(
    results: dict[str, dict[str, Measurement]], peer: str | None, args: argparse.Namespace
) -> dict[str, float | None]:
    """Print the summary table; return orkest's advantage ratio per metric."""
    ours = results.get("orkest", {})
    theirs = results.get(peer, {}) if peer else {}
    header = ["workload", "N", "orkest", "target", ""]
    if peer:
        header += [f"{peer} {args.peer_version}", "orkest vs peer", f">={RATIO_TARGET:.0f}x"]
    rows: list[list[str]] = []
    ratios: dict[str, float | None] = {}
    for key, metric in METRICS.items():
        o, p = ours.get(key), theirs.get(key)
        if o is None and p is None:
            continue
        target = ""
        if metric.target is not None:
            sign = ">=" if metric.higher_is_better else "<="
            target = f"{sign} {fmt(metric.target, metric.unit, per_task=False)}"
        row = [
            metric.label,
            "/".join(str(m.n) for m in (o, p) if m is not None and m.n is not None),
            _cell(o, metric.unit),
            target,
            verdict(o.value if o else None, metric),
        ]
        if peer:
            r = ratios[key] = advantage(o, p, metric)
            row += [
                _cell(p, metric.unit),
                "-" if r is None else f"{_num(r)}x {metric.ratio_word}",
                "" if r is None else ("PASS" if r >= RATIO_TARGET else "MISS"),
            ]
        rows.append(row)

    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    rule = "  ".join("-" * w for w in widths)
    print()
    print(_join(header, widths))
    print(rule)
    for row in rows:
        print(_join(row, widths))
    print(rule)
    print(
        ("N is orkest/peer.  " if peer else "")
        + f"Median of {args.repeat} run(s) per workload ({args.import_repeat} "
        "fresh interpreters for import), each run in a fresh subprocess with a fresh home dir.\n"
        f"Warm-up before timing, on every side: the same workload at N={WARMUP_N} "
        f"({WARMUP_N} empty flows for (d)); imports and the warm-up are not timed.\n"
        "(a)-(c) time the whole flow call (incl. its start/finish and any work deferred to "
        "its end), divided by N."
    )
    for side, res in results.items():
        parts = []
        for key in ("seq", "submit", "map"):
            runs = res[key].extra.get("runs", []) if key in res else []
            if runs:
                value = statistics.median(figure(key, r["n"], r["inner_s"]) for r in runs)
                label = METRICS[key].label.split()[0]
                parts.append(f"{label} {fmt(value, METRICS[key].unit, per_task=False)}")
        if parts:
            print(f"{side}, timed inside the flow body only: {', '.join(parts)}")
    for side, res in results.items():
        rss = res.get("rss")
        kids: list[float] = rss.extra.get("children_mb", []) if rss else []
        if kids and max(kids) > 0:
            print(
                f"note: during (a) {side} also ran child processes (peak RSS "
                f"{statistics.median(kids):,.0f} MB in all), not counted in the RSS row."
            )
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
        description="Measure orkest's per-task / per-flow overhead (optionally vs. Prefect).",
        epilog="See the module docstring (or bench/README.md) for what each workload does.",
    )
    p.add_argument("--peer", choices=["prefect"], help=f"also run prefect=={PREFECT_VERSION}")
    p.add_argument("--peer-version", default=PREFECT_VERSION, help=argparse.SUPPRESS)
    p.add_argument(
        "--peer-venv",
        type=Path,
        help="virtualenv for the peer, created once "
        f"(default: ~/.cache/orkest-bench/prefect-{PREFECT_VERSION})",
    )
    p.add_argument(
        "--only",
        choices=["both", "orkest", "peer"],
        default="both",
        help="which side(s) to run (default: both)",
    )
    p.add_argument(
        "--workloads",
        default=",".join(WORKLOADS),
        help=f"comma-separated subset of {','.join(WORKLOADS)} (default: all)",
    )
    p.add_argument("--quick", action="store_true", help="small N and 1 repeat: a smoke run")
    p.add_argument("--repeat", type=int, help="runs per workload (default: 3, --quick: 1)")
    p.add_argument(
        "--import-repeat", type=int, help="fresh interpreters for (e) (default: 5, --quick: 3)"
    )
    p.add_argument(
        "--timeout", type=float, default=600.0, help="seconds per subprocess (default: 600)"
    )
    p.add_argument("--json", type=Path, metavar="PATH", help="also write the figures as JSON")
    for key, what in [("seq", "(a)"), ("submit", "(b)"), ("map", "(c)"), ("flow", "(d)")]:
        (ours, peer), (q_ours, q_peer) = DEFAULT_N[key], QUICK_N[key]
        p.add_argument(
            f"--n-{key}",
            type=int,
            metavar="N",
            help=f"N for {what} on orkest (default {ours}, --quick {q_ours})",
        )
        p.add_argument(
            f"--peer-n-{key}",
            type=int,
            metavar="N",
            help=f"... on the peer (default {peer}, --quick {q_peer})",
        )
    args = p.parse_args(argv)

    args.workloads = [w.strip() for w in args.workloads.split(",") if w.strip()]
    unknown = set(args.workloads) - set(WORKLOADS)
    if unknown:
        p.error(f"unknown workload(s): {', '.join(sorted(unknown))}")
    if args.only == "peer" and not args.peer:
        p.error("--only peer needs --peer")
    if args.repeat is None:
        args.repeat = 1 if args.quick else 3
    if args.import_repeat is None:
        args.import_repeat = 3 if args.quick else 5
    if args.repeat < 1 or args.import_repeat < 1:
        p.error("--repeat and --import-repeat must be >= 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)

    table = QUICK_N if args.quick else DEFAULT_N
    sizes = {
        "orkest": {k: getattr(args, f"n_{k}") or v[0] for k, v in table.items()},
        "peer": {k: getattr(args, f"peer_n_{k}") or v[1] for k, v in table.items()},
    }
    sides: list[tuple[str, Framework, str, dict[str, int]]] = []
    if args.only in ("both", "orkest"):
        sides.append(("orkest", FRAMEWORKS["orkest"], sys.executable, sizes["orkest"]))
    if args.peer and args.only in ("both", "peer"):
        venv = args.peer_venv or default_peer_venv(args.peer, args.peer_version)
        python = ensure_peer_venv(args.peer, args.peer_version, venv.expanduser().resolve())
        sides.append((args.peer, FRAMEWORKS[args.peer], python, sizes["peer"]))

    results: dict[str, dict[str, Measurement]] = {}
    for side, fw, python, n in sides:
        results[side] = measure_side(side, fw, python, n, args)

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
                "import_repeat": args.import_repeat,
                "warmup_n": WARMUP_N,
                "peer": f"{args.peer}=={args.peer_version}" if args.peer else None,
                "calibration_us": calibration,
            },
            "targets": {
                k: {"value": w.target, "unit": w.unit, "higher_is_better": w.higher_is_better}
                for k, w in METRICS.items()
                if w.target is not None
            },
            "ratio_target": RATIO_TARGET,
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
