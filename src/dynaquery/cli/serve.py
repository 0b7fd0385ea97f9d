"""`dynaquery serve`: the web page and the JSON API over the workspace.

The server's configuration is read here, once (flags and environment variables), and passed to
server.serve() as arguments.
"""

from __future__ import annotations

import os
from contextlib import contextmanager

import click

from .._speed.gc import collect_garbage
from .options import open_workspace
from .output import EXIT_INPUT, fail, handle_errors, say

# Named here too (server.TOKEN_ENV, server.ALLOW_NETWORK_ENV): the options are built when the
# command starts, before anything imports the server.
TOKEN_ENV = "DYNAQUERY_TOKEN"
ALLOW_NETWORK_ENV = "DYNAQUERY_ALLOW_ENDPOINT_NETWORK"


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.option(
    "--demo",
    is_flag=True,
    help="Also start a local DynamoDB with the documentation's tables, saved as the "
    "data source 'demo'. Its data and its address (http://127.0.0.1:8001 unless "
    "taken on the first start) are kept in the workspace directory, under demo/.",
)
@click.option(
    "--new-token",
    is_flag=True,
    help="Replace the stored token with a new one (printed once) and exit.",
)
@click.option(
    "--allow-endpoint-network",
    type=click.Choice(["link-local"], case_sensitive=False),
    multiple=True,
    envvar=ALLOW_NETWORK_ENV,
    help="Let data sources given through the API use endpoints on link-local "
    "addresses (169.254.0.0/16, fe80::/10, the cloud metadata service), refused "
    "otherwise. Also DYNAQUERY_ALLOW_ENDPOINT_NETWORK=link-local.",
)
@click.option(
    "--allowed-host",
    "allowed_hosts",
    multiple=True,
    metavar="HOST[:PORT]",
    help="A Host header to answer besides the defaults: on loopback only "
    "127.0.0.1, localhost and [::1] are answered (DNS rebinding); on another "
    "address, only the names given (any, when none is given). Repeatable.",
)
@click.option(
    "--forwarded-allow-ips",
    metavar="IPS",
    help="Comma-separated addresses of the reverse proxies whose X-Forwarded-For "
    "is believed ('*' for any). Default: none; the client address is the peer's.",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    envvar="DYNAQUERY_WORKERS",
    help="Processes answering requests. They share the workspace (and through it the "
    "download links and the limit on wrong tokens), so they act as one server. Also "
    "DYNAQUERY_WORKERS.",
)
@handle_errors
def serve(
    host: str,
    port: int,
    demo: bool,
    new_token: bool,
    allow_endpoint_network: tuple[str, ...] = (),
    allowed_hosts: tuple[str, ...] = (),
    forwarded_allow_ips: str | None = None,
    workers: int = 1,
) -> None:
    """Serve the web page and the JSON API over the workspace.

    Every API call needs the token: DYNAQUERY_TOKEN, or one generated on first start and printed
    once with the address to open. Without DYNAQUERY_TOKEN (or a stored token) the server only
    listens on loopback addresses.
    """
    from .. import server

    collect_garbage()
    workspace = open_workspace()
    if new_token:
        click.echo(server.new_token(workspace))
        return
    token = os.environ.get(TOKEN_ENV) or None
    _refuse_without_token(server, workspace, host, token)
    with _demo_engine(workspace, demo):
        server.serve(
            workspace,
            host,
            port,
            demo=demo,
            echo=say,
            allowed_hosts=allowed_hosts,
            forwarded_allow_ips=forwarded_allow_ips,
            token=token,
            allow_endpoint_network=allow_endpoint_network,
            workers=workers,
        )


def _refuse_without_token(server, workspace, host: str, token: str | None) -> None:
    """A server on another address than loopback needs a token chosen beforehand."""
    if server.is_loopback(host) or token or workspace.get_setting(server.TOKEN_SETTING):
        return
    fail(
        f"Refusing to listen on {host}, which is not a loopback address, without a token: "
        f"set {TOKEN_ENV}.",
        EXIT_INPUT,
    )


@contextmanager
def _demo_engine(workspace, demo: bool):
    """With --demo: DynamoDB Local with the documentation's tables, saved as the data source
    'demo', for as long as the server runs."""
    if not demo:
        yield
        return
    from ..demo import register, start_engine

    say("dynaquery: starting the demo engine...")
    engine = start_engine(workspace.key_file.parent, echo=say)
    try:
        register(workspace, engine.endpoint_url)
        kept = f"; its data is kept in {engine.data_dir}" if engine.data_dir else ""
        say(f"dynaquery: demo data source 'demo' at {engine.endpoint_url}{kept}")
        yield
    finally:
        engine.stop()
