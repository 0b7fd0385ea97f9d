"""A progress bar for the long commands (export, import)."""

from __future__ import annotations

import sys

import click


class Bar:
    """A Rich progress bar on stderr when it is a terminal; nothing otherwise."""

    def __init__(self, label: str):
        self.label = label
        self.progress = None
        self.task = None
        self.console = None
        if sys.stderr.isatty():
            self.console, self.progress = _rich_progress()

    def __enter__(self) -> Bar:
        if self.progress is not None:
            self.progress.start()
            self.task = self.progress.add_task(self.label, total=None)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()

    def update(self, done: int, total: int | None) -> None:
        if self.progress is not None:
            self.progress.update(
                self.task, completed=done, total=max(total, done) if total else None
            )

    def say(self, message: str) -> None:
        """A line above the bar (on stderr)."""
        if self.console is not None:
            self.console.print(message, markup=False, highlight=False)
        else:
            click.echo(message, err=True)


def _rich_progress():
    """(the console, the progress display): Rich is imported only for a terminal."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class Rate(ProgressColumn):
        def render(self, task):
            speed = task.finished_speed or task.speed
            return Text(f"{speed:,.0f} items/s" if speed else "", style="progress.data.speed")

    console = Console(stderr=True)
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        Rate(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )
    return console, progress
