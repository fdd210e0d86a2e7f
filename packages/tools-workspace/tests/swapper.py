"""Child process for the race test: keeps swapping workspace entries for symlinks out of it.

Usage: swapper.py WORKSPACE OUTSIDE

Each round atomically exchanges (``renameat2`` with ``RENAME_EXCHANGE``) the directory ``d``
with ``d.evil``, a symlink to ``OUTSIDE/a``, and the file ``e/f`` with ``e/f.evil``, a symlink
to ``OUTSIDE/f.txt`` planted afresh, and then both back. So ``d`` and ``e/f`` always
exist and are, from moment to moment, the real entry or a symlink out of the workspace. Prints
``ready`` after the first round; when stdin closes it prints the number of rounds and exits.
"""

from __future__ import annotations

import ctypes
import os
import select
import sys
from pathlib import Path

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2
_libc = ctypes.CDLL(None, use_errno=True)


def exchange(first: str, second: str) -> None:
    if _libc.renameat2(_AT_FDCWD, first.encode(), _AT_FDCWD, second.encode(), _RENAME_EXCHANGE):
        error = ctypes.get_errno()
        raise OSError(error, os.strerror(error), first)


def one_round(outside: str) -> None:
    # Interleaved, so each entry is a symlink for about half of the round.
    exchange("d", "d.evil")
    Path("e/f.new").symlink_to(Path(outside) / "f.txt")
    Path("e/f.new").rename("e/f.evil")  # replaces whatever a write left there
    exchange("e/f", "e/f.evil")
    exchange("d", "d.evil")
    exchange("e/f", "e/f.evil")


def main(workspace: str, outside: str) -> None:
    os.chdir(workspace)
    Path("d.evil").symlink_to(Path(outside) / "a")
    rounds = 0
    one_round(outside)
    print("ready", flush=True)
    while not select.select([sys.stdin], [], [], 0)[0]:
        one_round(outside)
        rounds += 1
    print(rounds, flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
