"""`dynaquery operations`: the catalog of DynamoDB's operations, from the installed model."""

from __future__ import annotations

import click

from .options import json_option
from .output import handle_errors


@click.group(invoke_without_command=True)
@json_option
@click.pass_context
@handle_errors
def operations(ctx: click.Context, as_json: bool) -> None:
    """List every DynamoDB operation with a one-line summary."""
    if ctx.invoked_subcommand is not None:
        return
    from ..catalog import catalog
    from ..results import to_json

    ops = list(catalog())
    if as_json:
        click.echo(to_json([op.to_dict() for op in ops]))
        return
    width = max(len(op.name) for op in ops)
    for op in ops:
        click.echo(f"{op.name:<{width}}  {op.access:<9}  {op.summary}")


@operations.command("show")
@click.argument("name")
@json_option
@handle_errors
def operations_show(name: str, as_json: bool) -> None:
    """Show an operation's parameters (required marked) and an example."""
    from ..catalog import catalog
    from ..results import to_json

    op = catalog().get(name)
    if as_json:
        click.echo(to_json(op.to_dict(detail=True)))
        return
    click.echo(f"{op.name} ({op.python_name}), {op.access}{', paginated' if op.pagination else ''}")
    click.echo(f"\n{op.summary}\n\nParameters:")
    if not op.parameters:
        click.echo("  (none)")
    for p in op.parameters:
        mark = "*" if p.required else " "
        click.echo(f" {mark} {p.name}: {p.type}")
        if p.documentation:
            click.echo(f"      {p.documentation}")
    click.echo("  (* required)\n\nExample:")
    click.echo(op.example)
