"""The item report of the cleanup commands, as text lines or one JSON document.

Text keeps the earlier system's words (``deleted:``, ``would_delete:``, ``kept:``,
``refused:``, ``summary:``, ``note:``) but only *kept* items are bounded: deletions, would-be
deletions, refusals and failures are always printed, and ``--json`` lists every item.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from yoi_cli.shared.text import printable

#: How many kept items the text report prints before it says the rest were omitted.
KEPT_LINES_LIMIT = 50

ALWAYS_SHOWN = ("deleted", "would_delete", "refused", "failed")


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


@dataclass
class Report:
    command: str
    force: bool
    #: ``(key, value)`` lines printed after ``mode:``.
    header: list[tuple[str, str]] = field(default_factory=list)
    items: list[Item] = field(default_factory=list)
    note: str = ""

    @property
    def mode(self) -> str:
        return "force" if self.force else "dry-run"

    def add(self, item: Item) -> None:
        self.items.append(item)

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
        actions = Counter(item.action for item in self.items)
        return 1 if actions["refused"] or actions["failed"] else 0

    def text_lines(self, summary: str) -> list[str]:
        lines = [self.command, f"mode: {self.mode}"]
        lines += [f"{key}: {value}" for key, value in self.header]
        kept_shown = 0
        omitted = 0
        for item in self.items:
            if item.action in ALWAYS_SHOWN:
                lines.append(item.line())
            elif kept_shown < KEPT_LINES_LIMIT:
                lines.append(item.line())
                kept_shown += 1
            else:
                omitted += 1
        if omitted:
            lines.append(
                f"... {omitted} kept items omitted from bounded report (use --json for all) ..."
            )
        lines.append(f"summary: {summary}")
        if not self.force and self.note:
            lines.append(f"note: {self.note}")
        return lines

    def json_text(self, summary: dict[str, int]) -> str:
        document = {
            "command": self.command,
            "mode": self.mode,
            **{key: value for key, value in self.header},
            "items": [item.to_json() for item in self.items],
            "summary": summary,
            "exit_code": self.exit_code,
        }
        return json.dumps(document, indent=2)
