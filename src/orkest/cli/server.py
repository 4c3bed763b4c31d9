"""`orkest server start`: the API, the web UI and /metrics in one process (uvicorn).

A server reachable from other machines must not be open to all of them: without
ORKEST_API_KEY it binds only a loopback address, unless --insecure says that is meant.
"""

from __future__ import annotations

import click

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4200


def is_loopback(host: str) -> bool:
    """Whether `host` is only reachable from this machine (names other than localhost are
    not trusted to be: they may resolve anywhere)."""
    import ipaddress

    name = host.strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"http://{shown}:{port}"


@click.group("server")
def server_group() -> None:
    """Run the orkest API server and web UI."""


@server_group.command("start")
@click.option("--host", default=DEFAULT_HOST, show_default=True,
              help="Address to bind; anything but loopback needs ORKEST_API_KEY.")
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=click.IntRange(1, 65535))
@click.option("--insecure", is_flag=True,
              help="Allow a non-loopback host without an API key (anyone who can reach it "
                   "can read and change every run).")
@click.option("--reap-interval", default=30.0, show_default=True, type=click.FloatRange(0),
              help="Seconds between checks for runs whose process died (0: never).")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["critical", "error", "warning", "info", "debug"]))
@click.option("--no-services", is_flag=True,
              help="Serve only: no scheduler or trigger service in this process (run "
                   "`orkest scheduler start` elsewhere).")
def start_command(host: str, port: int, insecure: bool, reap_interval: float,
                  log_level: str, no_services: bool) -> None:
    """Serve the REST API (/api), the web UI (/) and Prometheus metrics (/metrics).

    The server uses its own database (ORKEST_DATABASE_URL, or ORKEST_HOME/orkest.db) and
    ignores ORKEST_API_URL. Stop it with Ctrl-C.
    """
    import os

    from orkest import settings
    from orkest.cli.output import EXIT_USAGE, console, exit_with

    current = settings.current()
    if not is_loopback(host) and not current.api_key and not insecure:
        exit_with(f"Refusing to serve on {host} without an API key: anyone who can reach it "
                  "could read and change every run. Set ORKEST_API_KEY (clients send it as "
                  "'Authorization: Bearer <key>'), bind 127.0.0.1, or pass --insecure if "
                  "this network is trusted.", EXIT_USAGE)

    import uvicorn

    from orkest.server import create_app

    app = create_app(reap_interval=reap_interval or None, services=not no_services)
    config = app.state.config
    database = getattr(app.state.store, "url", config.database_url)
    base = _url(host, port)
    out = console()
    out.print(f"orkest server on {base}")
    out.print(f"  web UI    {base}/")
    out.print(f"  API docs  {base}/api/docs  (API root {base}/api)")
    out.print(f"  metrics   {base}/metrics")
    out.print("  services  " + ("none (--no-services)" if no_services
                              else "scheduler, event triggers"))
    out.print(f"  database  {database}")
    out.print("  API key   " + ("required (ORKEST_API_KEY)" if config.api_key else
                              "not required (set ORKEST_API_KEY to require one)"))
    if os.environ.get("ORKEST_API_URL"):
        out.print("  note      ORKEST_API_URL is ignored here: the server is the API")
    if not is_loopback(host) and not config.api_key:
        out.print("  [bold red]warning[/]   no API key on a non-loopback address (--insecure)")
    out.print("Press Ctrl-C to stop.")
    uvicorn.run(app, host=host.strip("[]"), port=port, log_level=log_level,
                access_log=log_level == "debug", timeout_graceful_shutdown=5)
    out.print("Server stopped.")
