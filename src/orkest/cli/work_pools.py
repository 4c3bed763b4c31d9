"""`orkest work-pool ls|create`: the pools workers claim runs from."""

from __future__ import annotations

import time

import click


@click.group("work-pool")
def work_pool_group() -> None:
    """List and create work pools (a deployment's pool is created when it is deployed)."""


@work_pool_group.command("ls")
@click.option("--json", "as_json", is_flag=True, help="Print JSON records instead of a table.")
def ls_command(as_json: bool) -> None:
    """List pools with their workers' last heartbeat."""
    from rich.table import Table

    from orkest.cli.output import console, fmt_time, plain, print_json
    from orkest.services.deployments import orchestration_store

    store = orchestration_store()
    pools = store.list_work_pools()
    if as_json:
        print_json(pools)
        return
    if not pools:
        console().print("No work pools yet: `orkest deploy` or `orkest work-pool create` "
                        "makes one.")
        return
    now = time.time()
    table = Table(title="Work pools", title_justify="left")
    for column in ("Pool", "Limit", "Paused", "Workers online", "Last heartbeat"):
        table.add_column(column)
    for pool in pools:
        workers = store.list_workers(work_pool=pool.name)
        online = [w for w in workers if w.status == "online" and now - w.heartbeat_ts < 90]
        last = max((w.heartbeat_ts for w in workers), default=None)
        table.add_row(plain(pool.name), str(pool.concurrency_limit or "-"),
                      "yes" if pool.paused else "no", str(len(online)), fmt_time(last))
    console().print(table)


@work_pool_group.command("create")
@click.argument("name")
@click.option("--concurrency-limit", type=click.IntRange(min=1), default=None,
              help="At most this many runs of the pool active at once.")
@click.option("--paused", is_flag=True, help="Workers claim nothing until resumed.")
@click.option("--description", default=None)
def create_command(name: str, concurrency_limit: int | None, paused: bool,
                   description: str | None) -> None:
    """Create a pool, or change an existing one's limit and pause."""
    from orkest.cli.output import EXIT_USAGE, console, exit_with
    from orkest.core.deployments import WorkPool
    from orkest.services.deployments import orchestration_store

    if not name.strip() or "/" in name:
        exit_with(f"Work pool name {name!r} must be non-empty and without '/'", EXIT_USAGE)
    pool = orchestration_store().save_work_pool(WorkPool(
        name.strip(), created_ts=time.time(), concurrency_limit=concurrency_limit,
        paused=paused, description=description))
    limit = f", at most {pool.concurrency_limit} run(s) at once" if pool.concurrency_limit \
        else ""
    console().print(f"Work pool {pool.name!r} ready{limit}"
                    f"{' (paused)' if pool.paused else ''}")
