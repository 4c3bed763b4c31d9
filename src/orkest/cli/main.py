"""The `orkest` entry point: a click group whose verbs are imported only when used.

Add a verb group by adding one line to `COMMANDS` ("name": "module:attribute"); the
module should import only click at its top so that `orkest --help` stays fast.
Errors that orkest raises on purpose (unknown id, store unreachable, illegal transition)
become one line on stderr and exit 1, never a traceback.
"""

from __future__ import annotations

import importlib
from typing import Any

import click

COMMANDS: dict[str, str] = {
    "run": "orkest.cli.run:run_command",
    "flow-run": "orkest.cli.flow_runs:flow_run_group",
    "task-run": "orkest.cli.task_runs:task_run_group",
    "db": "orkest.cli.db:db_group",
    "demo": "orkest.cli.demo:demo_command",
    "schema": "orkest.cli.schema:schema_group",
    "server": "orkest.cli.server:server_group",
    "deploy": "orkest.cli.deploy:deploy_command",
    "deployment": "orkest.cli.deployments:deployment_group",
    "scheduler": "orkest.cli.scheduler:scheduler_group",
    "worker": "orkest.cli.worker:worker_group",
    "work-pool": "orkest.cli.work_pools:work_pool_group",
    "concurrency-limit": "orkest.cli.concurrency:concurrency_limit_group",
    "event": "orkest.cli.events:event_group",
    "variable": "orkest.cli.variables:variable_group",
    "secret": "orkest.cli.secrets:secret_group",
    "block": "orkest.cli.blocks:block_group",
    "automation": "orkest.cli.automations:automation_group",
}


class LazyGroup(click.Group):
    """A group that imports a verb's module when the verb is asked for."""

    def __init__(self, *args: Any, lazy: dict[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = self.lazy.get(cmd_name)
        if target is None:
            return super().get_command(ctx, cmd_name)
        module_name, attr = target.split(":")
        return getattr(importlib.import_module(module_name), attr)

    def invoke(self, ctx: click.Context) -> Any:
        from orkest.errors import OrkestError

        try:
            return super().invoke(ctx)
        except OrkestError as exc:
            from orkest.cli.output import EXIT_FAILED, exit_with

            exit_with(str(exc), EXIT_FAILED)
        except KeyboardInterrupt:
            from orkest.cli.output import EXIT_INTERRUPTED, exit_with

            exit_with("Interrupted", EXIT_INTERRUPTED)


@click.group(cls=LazyGroup, lazy=COMMANDS, context_settings={"help_option_names": ["-h",
                                                                                   "--help"]})
@click.version_option(package_name="orkest", prog_name="orkest")
def cli() -> None:
    """orkest: workflow orchestration. Run flows, inspect and steer their runs."""


def main() -> None:
    cli(prog_name="orkest")


if __name__ == "__main__":
    main()
