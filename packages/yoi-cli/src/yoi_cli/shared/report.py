"""The item report of the cleanup commands: text lines as items are decided, or one JSON document.

Text keeps the earlier system's words (``deleted:``, ``would_delete:``, ``kept:``,
``refused:``, ``summary:``, ``note:``) and prints each item the moment it is decided, flushed,
so a long run shows its work; only *kept* items are bounded: deletions, would-be deletions,
refusals and failures are always printed, and ``--json`` lists every item. On a terminal a
progress line on stderr counts the items (never with ``--json``). Ctrl-C stops the run after the
item in hand; the summary then covers what was done and the exit code is 130.
"""

from __future__ import annotations

import json
import signal
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FrameType
from typing import Any, TypeVar

import click

from yoi_cli.shared.stores import describe_error
from yoi_cli.shared.text import format_size, printable

#: How many kept items the text report prints before it says the rest were omitted.
KEPT_LINES_LIMIT = 50
#: The exit code of a run stopped by Ctrl-C (128 + SIGINT), as shells report it.
INTERRUPTED_EXIT_CODE = 130

ALWAYS_SHOWN = ("deleted", "would_delete", "refused", "failed")

Candidate = TypeVar("Candidate")


@dataclass
class Item:
    action: str
    id: str
    reason: str
    #: What the item's removal reclaims (or would reclaim), when known.
    bytes: int | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def line(self) -> str:
        return f"{self.action}: {printable(self.id)} ({self.reason})"

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {"action": self.action, "id": self.id, "reason": self.reason}
        if self.bytes is not None:
            document["bytes"] = self.bytes
        document.update(self.details)
        return document


class _Lines:
    """Text on stdout, each line flushed as it is printed (``click.echo`` flushes)."""

    def line(self, text: str) -> None:
        click.echo(text)

    def advance(self, reclaimed_bytes: int) -> None:
        pass

    def close(self) -> None:
        pass


class _LinesUnderProgress(_Lines):
    """Lines on stdout below a progress line on the terminal's stderr (count, rate, ETA)."""

    def __init__(self, total: int, noun: str, reclaim_word: str) -> None:
        from tqdm import tqdm

        self._reclaim_word = reclaim_word
        self._bar = tqdm(
            total=total, unit=f" {noun}", file=sys.stderr, leave=False, dynamic_ncols=True
        )

    def line(self, text: str) -> None:
        self._bar.write(text, file=sys.stdout)  # clears the progress line, prints, redraws
        sys.stdout.flush()

    def advance(self, reclaimed_bytes: int) -> None:
        self._bar.set_postfix_str(f"{format_size(reclaimed_bytes)} {self._reclaim_word}", False)
        self._bar.update(1)

    def close(self) -> None:
        self._bar.close()


@contextmanager
def _stop_on_interrupt() -> Iterator[list[bool]]:
    """Turn the first Ctrl-C into a request to stop (``[True]``); a second one aborts."""
    requested = [False]

    def handle(signum: int, frame: FrameType | None) -> None:
        if requested[0]:
            raise KeyboardInterrupt
        requested[0] = True  # nothing printed here: the handler may interrupt a write

    previous = signal.signal(signal.SIGINT, handle)
    try:
        yield requested
    finally:
        signal.signal(signal.SIGINT, previous)


@dataclass
class Report:
    command: str
    force: bool
    #: ``(key, exact value, value for people)``: JSON keys, and text lines after ``mode:``.
    header: list[tuple[str, str, str]] = field(default_factory=list)
    items: list[Item] = field(default_factory=list)
    note: str = ""
    as_json: bool = False
    #: What the items are, for the progress line and the interruption line: ``sessions``.
    noun: str = "items"
    interrupted: bool = False
    _kept_shown: int = 0
    _kept_omitted: int = 0

    @property
    def mode(self) -> str:
        return "force" if self.force else "dry-run"

    def count(self, action: str, reason_prefix: str = "") -> int:
        return sum(
            1
            for item in self.items
            if item.action == action and item.reason.startswith(reason_prefix)
        )

    @property
    def reclaimed_bytes(self) -> int:
        action = "deleted" if self.force else "would_delete"
        return sum(item.bytes or 0 for item in self.items if item.action == action)

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return INTERRUPTED_EXIT_CODE
        actions = Counter(item.action for item in self.items)
        return 1 if actions["refused"] or actions["failed"] else 0

    def run(
        self,
        candidates: Sequence[Candidate],
        decide: Callable[[Candidate], Item],
        name: Callable[[Candidate], str],
    ) -> None:
        """Decide each candidate in turn, reporting it at once; a failure is a ``failed`` item."""
        output = self._output(len(candidates))
        if not self.as_json:
            output.line(self.command)
            output.line(f"mode: {self.mode}")
            for key, _, text in self.header:
                output.line(f"{key}: {text}")
        try:
            with _stop_on_interrupt() as stop:
                for candidate in candidates:
                    if stop[0]:
                        break
                    try:
                        item = decide(candidate)
                    except Exception as error:
                        item = Item("failed", name(candidate), describe_error(error))
                    self._add(item, output)
            self.interrupted = stop[0]
        finally:
            output.close()
        if self.interrupted and not self.as_json:
            click.echo(
                f"interrupted: stopped after {len(self.items)} of {len(candidates)} "
                f"{self.noun} (Ctrl-C)"
            )

    def _output(self, total: int) -> _Lines:
        if self.as_json or not sys.stderr.isatty():
            return _Lines()
        return _LinesUnderProgress(total, self.noun, self._reclaim_word)

    @property
    def _reclaim_word(self) -> str:
        return "reclaimed" if self.force else "to reclaim"

    def _add(self, item: Item, output: _Lines) -> None:
        self.items.append(item)
        if not self.as_json:
            for line in self._shown_lines(item):
                output.line(line)
        output.advance(self.reclaimed_bytes)

    def _shown_lines(self, item: Item) -> Iterable[str]:
        if item.action in ALWAYS_SHOWN:
            yield item.line()
        elif self._kept_shown < KEPT_LINES_LIMIT:
            self._kept_shown += 1
            yield item.line()
        else:
            self._kept_omitted += 1

    def finish(self, counts: dict[str, int]) -> int:
        """Print the summary (text) or the whole document (JSON); return the exit code."""
        if self.as_json:
            click.echo(self._json_text(counts))
            return self.exit_code
        if self._kept_omitted:
            click.echo(
                f"... {self._kept_omitted} kept items omitted from bounded report "
                "(use --json for all) ..."
            )
        numbers = " ".join(f"{key}={value}" for key, value in counts.items())
        click.echo(f"summary: {numbers} ({format_size(self.reclaimed_bytes)} {self._reclaim_word})")
        if not self.force and self.note:
            click.echo(f"note: {self.note}")
        return self.exit_code

    def _json_text(self, counts: dict[str, int]) -> str:
        document = {
            "command": self.command,
            "mode": self.mode,
            **{key: exact for key, exact, _ in self.header},
            "items": [item.to_json() for item in self.items],
            "summary": {**counts, "reclaimed_bytes": self.reclaimed_bytes},
            **({"interrupted": True} if self.interrupted else {}),
            "exit_code": self.exit_code,
        }
        return json.dumps(document, indent=2)
