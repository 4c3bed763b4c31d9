"""`orkest deploy TARGET --name NAME [--cron ...] [--param k=v]`: register a deployment.

A DAG brings its own `schedule`, `catchup`, `max_active_runs` and tags, and a YAML flow
its `schedule:` block; options given here win over both.
"""

from __future__ import annotations

from typing import Any

import click

from orkest.cli.output import EXIT_USAGE, exit_with


@click.command("deploy")
@click.argument("target")
@click.option("--name", "-n", default="default", show_default=True,
              help="Deployment name; the full name is FLOW_NAME/NAME.")
@click.option("--cron", "crons", multiple=True, metavar="EXPR",
              help="A cron schedule (5 fields or @daily...); repeat for several.")
@click.option("--interval", "intervals", multiple=True, type=float, metavar="SECONDS",
              help="An interval schedule in seconds; repeat for several.")
@click.option("--rrule", "rrules", multiple=True, metavar="RULE",
              help="An RFC 5545 RRULE schedule, e.g. 'FREQ=WEEKLY;BYDAY=MO'.")
@click.option("--timezone", "--tz", "timezone", default="UTC", show_default=True,
              help="Time zone of --cron and --rrule schedules (IANA name).")
@click.option("--param", "-p", "params", multiple=True, metavar="KEY=VALUE",
              help="A default parameter of its runs (JSON when it parses, else text).")
@click.option("--pool", "work_pool", default="default", show_default=True,
              help="The work pool whose workers run it.")
@click.option("--tag", "tags", multiple=True, help="A tag of the deployment and its runs.")
@click.option("--concurrency-limit", type=click.IntRange(min=1), default=None,
              help="At most this many of its runs active at once.")
@click.option("--catchup/--no-catchup", default=None,
              help="Create runs for slots missed while no scheduler ran.")
@click.option("--priority", type=int, default=0, show_default=True,
              help="Higher runs first among due runs of the pool.")
@click.option("--description", default=None)
def deploy_command(target: str, name: str, crons: tuple[str, ...],
                   intervals: tuple[float, ...], rrules: tuple[str, ...], timezone: str,
                   params: tuple[str, ...], work_pool: str, tags: tuple[str, ...],
                   concurrency_limit: int | None, catchup: bool | None, priority: int,
                   description: str | None) -> None:
    """Register (or update) a deployment of the flow or DAG that TARGET names.

    TARGET is file.py:flow_name, file.py:dag_id or flow.yaml. Workers of its pool run it
    (`orkest worker start --pool NAME`); the scheduler creates its scheduled runs.
    """
    from orkest.cli.execution import load_flow, parse_params
    from orkest.cli.output import console
    from orkest.errors import DeploymentError, InvalidSchedule
    from orkest.services.deployments import build_deployment, save

    flow, entrypoint = load_flow(target)
    try:
        schedules = _schedules(crons, intervals, rrules, timezone)
        options = _defaults_of(flow)
        if schedules:
            options["schedules"] = schedules
        if catchup is not None:
            options["catchup"] = catchup
        if concurrency_limit is not None:
            options["concurrency_limit"] = concurrency_limit
        if tags:
            options["tags"] = list(tags)
        deployment = build_deployment(
            flow, name, entrypoint=entrypoint, parameters=parse_params(params),
            work_pool=work_pool, priority=priority, description=description, **options)
        deployment = save(None, deployment)
    except (DeploymentError, InvalidSchedule) as exc:
        exit_with(str(exc), EXIT_USAGE)
    out = console()
    out.print(f"Deployed [bold]{deployment.full_name}[/bold] ({deployment.id}) to work pool "
              f"{deployment.work_pool!r}")
    from orkest.cli.deployments import schedule_lines

    for line in schedule_lines(deployment):
        out.print(f"  {line}")
    out.print(f"Run it now: orkest deployment run {deployment.full_name}")
    out.print(f"Start a worker: orkest worker start --pool {deployment.work_pool}")


def _schedules(crons: tuple[str, ...], intervals: tuple[float, ...], rrules: tuple[str, ...],
               timezone: str) -> list[Any]:
    from orkest.errors import InvalidSchedule
    from orkest.schedules import Cron, Interval, RRule

    schedules: list[Any] = [Cron(c, timezone=timezone) for c in crons]
    schedules += [RRule(r, timezone=timezone) for r in rrules]
    for seconds in intervals:
        if seconds <= 0:
            raise InvalidSchedule(f"--interval must be a positive number of seconds, not "
                                  f"{seconds:g}")
        import datetime as dt

        schedules.append(Interval(dt.timedelta(seconds=seconds)))
    return schedules


def _defaults_of(flow: Any) -> dict[str, Any]:
    """What a DAG or a YAML flow says about its own deployment."""
    dag = getattr(flow, "dag", None)
    if dag is None:
        return {}
    options: dict[str, Any] = {"catchup": bool(getattr(dag, "catchup", False))}
    spec = getattr(dag, "schedule_spec", None)
    if spec is not None:
        from orkest.schedules import schedule_from

        options["schedules"] = [schedule_from(spec)]
    elif getattr(dag, "timetable", None) is not None:
        options["schedules"] = [dag.timetable]
    if getattr(dag, "max_active_runs", None):
        options["concurrency_limit"] = dag.max_active_runs
    if getattr(dag, "tags", None):
        options["tags"] = list(dag.tags)
    return options
