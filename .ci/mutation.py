#!/usr/bin/env python3
"""Mutation testing of the safety-critical modules: ``.ci/mutation.py [--list] [TARGET...]``.

Each target is a module (or some of its functions and classes) and the tests that guard it.
Every mutant (a comparison, boolean or arithmetic operator swapped, a condition negated, a
number one higher, ``True``/``False`` or ``min``/``max`` swapped, a statement removed) is written
into a copy of the package's sources put first on ``PYTHONPATH``, so the processes the tests
start see it too, and the tests run against it. A mutant the tests fail (or time out on) is
killed; one they pass survived.

A survivor that no test can kill, since it changes no behaviour (a speed-only threshold, say),
is explained in a comment right above its statement that says ``equivalent mutant`` and names
the changes in backticks (no names: every change of the statement), for instance::

    # Equivalent mutants `< -> <=`, `32 -> 33`: 0x20 is whitespace, refused above.

It is then reported as equivalent and left out of the score. A marked mutant that the tests
do kill is reported too (the comment is wrong). ``assert`` statements, imports and
docstrings are not mutated.

Prints each target's score and surviving mutants; exits 1 when a target scores below
``GOAL`` or its tests fail before any mutation. Run through ``nox -s mutation``, which
installs every package the tests need.
"""

from __future__ import annotations

import argparse
import ast
import copy
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ROOT / "packages"
#: The share of non-equivalent mutants each target's tests must kill.
GOAL = 0.9
MARKER = "equivalent mutant"


@dataclass(frozen=True)
class Target:
    name: str
    #: The package folder under ``packages/``.
    package: str
    #: The module, relative to the package's ``src``.
    module: str
    #: Qualified names of the functions and classes to mutate (``Class.method``); empty: all.
    scopes: tuple[str, ...]
    #: pytest arguments, relative to the package folder.
    tests: tuple[str, ...]


TARGETS = (
    Target(
        "pod name rule",
        "pod-store",
        "yoi_pod_store/names.py",
        (),
        ("tests/test_names_and_model.py", "tests/test_conformance.py", "-k", "name or Name"),
    ),
    Target(
        "session references",
        "pod-store",
        "yoi_pod_store/references.py",
        (),
        ("tests/test_conformance.py", "-k", "referenc or unreadable or corrupt or runtime_record"),
    ),
    Target(
        "line decoding and segment checks",
        "session-store",
        "yoi_session_store/backends/_common.py",
        (),
        ("tests/test_line_decoding.py", "tests/test_conformance.py", "tests/test_fs_backend.py"),
    ),
    Target(
        "pod delete decision and liveness of a record",
        "pod-store",
        "yoi_pod_store/contract.py",
        (
            "PodStore.probe",
            "PodStore.delete_if_stopped",
            "PodStore._probe_record",
            "PodStore._probe_corrupt",
            "_last_activity",
        ),
        ("tests/test_conformance.py", "tests/test_probe_failures.py"),
    ),
    Target(
        "lease liveness probe (fs)",
        "pod-store",
        "yoi_pod_store/backends/fs.py",
        ("_probe_lease",),
        ("tests/test_fs_liveness.py", "tests/test_probe_failures.py", "tests/test_conformance.py"),
    ),
    Target(
        "lease liveness probe (postgres)",
        "store-postgres",
        "yoi_store_postgres/pod_store.py",
        (
            "_judge",
            "PostgresPodStore.probe",
            "PostgresPodStore.probe_runtime",
            "PostgresPodStore.probe_all_runtimes",
        ),
        ("tests/test_liveness.py", "tests/test_conformance.py", "-k", "liveness or PodStore"),
    ),
    Target(
        "session prune decision",
        "yoi-cli",
        "yoi_cli/commands/session.py",
        ("_Pruner",),
        (
            "tests/test_prune_decisions.py",
            "tests/test_session_commands.py",
            "-k",
            "prune or unreadable",
        ),
    ),
    Target(
        "pod prune decision",
        "yoi-cli",
        "yoi_cli/commands/pod.py",
        ("_prune_item", "_prune_one"),
        ("tests/test_prune_decisions.py", "tests/test_pod_commands.py", "-k", "prune"),
    ),
    Target(
        "duration grammar",
        "yoi-cli",
        "yoi_cli/shared/duration.py",
        (),
        ("tests/test_duration.py",),
    ),
)


# ---- mutants ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mutant:
    line: int
    #: What changed, e.g. ``< -> <=``.
    change: str
    #: The code of the mutated line, as written.
    code: str
    #: The whole mutated module.
    source: str
    equivalent: bool


_COMPARE: dict[type[ast.AST], type[ast.AST]] = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
}
_ARITHMETIC: dict[type[ast.AST], type[ast.AST]] = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.FloorDiv,
    ast.FloorDiv: ast.Mult,
    ast.Mod: ast.FloorDiv,
}
_BOOLEAN: dict[type[ast.AST], type[ast.AST]] = {ast.And: ast.Or, ast.Or: ast.And}
_SYMBOL: dict[type[ast.AST], str] = {
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.Is: "is",
    ast.IsNot: "is not",
    ast.In: "in",
    ast.NotIn: "not in",
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.FloorDiv: "//",
    ast.Mod: "%",
    ast.And: "and",
    ast.Or: "or",
}
#: Statements never removed: imports and no-ops (asserts are not mutated at all).
_KEPT_STATEMENTS = (ast.Import, ast.ImportFrom, ast.Pass)

#: A mutation: what it does, and how it makes the mutated node from (a copy of) the original.
Mutation = tuple[str, Callable[[ast.AST], ast.AST]]


def _swapped_operator(
    node: ast.BoolOp | ast.BinOp, table: dict[type[ast.AST], type[ast.AST]]
) -> Iterator[Mutation]:
    kind = type(node.op)
    swap = table.get(kind)
    if swap is not None:

        def apply(copied: ast.AST, swap: type[ast.AST] = swap) -> ast.AST:
            copied.op = swap()  # type: ignore[attr-defined]
            return copied

        yield f"{_SYMBOL[kind]} -> {_SYMBOL[swap]}", apply


def _compare_mutations(node: ast.Compare) -> Iterator[Mutation]:
    for index, op in enumerate(node.ops):
        swap = _COMPARE[type(op)]

        def apply(copied: ast.AST, index: int = index, swap: type[ast.AST] = swap) -> ast.AST:
            assert isinstance(copied, ast.Compare)
            copied.ops[index] = swap()  # type: ignore[call-overload]
            return copied

        yield f"{_SYMBOL[type(op)]} -> {_SYMBOL[swap]}", apply


def _constant_mutations(node: ast.Constant) -> Iterator[Mutation]:
    value = node.value
    if isinstance(value, bool):
        yield f"{value} -> {not value}", lambda copied: ast.Constant(not value)
    elif isinstance(value, int):
        yield f"{value} -> {value + 1}", lambda copied: ast.Constant(value + 1)


def _mutations(node: ast.AST, tests: set[int], docstrings: set[int]) -> Iterator[Mutation]:
    """The mutations of one node. ``tests``: ids of condition nodes; ``docstrings``: ids of
    docstring statements."""
    if isinstance(node, ast.Compare):
        yield from _compare_mutations(node)
    elif isinstance(node, ast.BoolOp):
        yield from _swapped_operator(node, _BOOLEAN)
    elif isinstance(node, ast.BinOp):
        yield from _swapped_operator(node, _ARITHMETIC)
    elif isinstance(node, ast.Constant):
        yield from _constant_mutations(node)
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        yield "not removed", lambda copied: copied.operand  # type: ignore[attr-defined]
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        swap = {"min": "max", "max": "min"}.get(node.func.id)
        if swap is not None:

            def apply(copied: ast.AST, swap: str = swap) -> ast.AST:
                copied.func = ast.Name(swap, ast.Load())  # type: ignore[attr-defined]
                return copied

            yield f"{node.func.id} -> {swap}", apply
    if id(node) in tests and not isinstance(node, ast.Compare | ast.UnaryOp | ast.BoolOp):
        yield "condition negated", _negated
    if (
        isinstance(node, ast.stmt)
        and not isinstance(node, _KEPT_STATEMENTS)
        and id(node) not in docstrings
    ):
        yield "statement removed", lambda copied: ast.Pass()


def _negated(copied: ast.AST) -> ast.AST:
    assert isinstance(copied, ast.expr)
    return ast.UnaryOp(ast.Not(), copied)


def _scope_lines(tree: ast.Module, scopes: Sequence[str], line_count: int) -> list[range]:
    """The line ranges of the named functions and classes (every line when none are named)."""
    if not scopes:
        return [range(1, line_count + 1)]
    found: dict[str, range] = {}

    def visit(body: list[ast.stmt], prefix: str) -> None:
        for node in body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                name = prefix + node.name
                assert node.end_lineno is not None
                found[name] = range(node.lineno, node.end_lineno + 1)
                if isinstance(node, ast.ClassDef):
                    visit(node.body, name + ".")

    visit(tree.body, "")
    missing = [scope for scope in scopes if scope not in found]
    if missing:
        raise SystemExit(f"mutation: no function or class named {', '.join(missing)}")
    return [found[scope] for scope in scopes]


def _equivalent_changes(tree: ast.Module, lines: list[str]) -> dict[int, frozenset[str]]:
    """Line -> the changes marked equivalent there (empty: every change), from comment blocks
    right above a statement that say ``equivalent mutant``, naming changes in backticks."""
    marked: dict[int, frozenset[str]] = {}
    for node in ast.walk(tree):
        if not isinstance(node, ast.stmt):
            continue
        above = node.lineno - 2
        while above >= 0 and lines[above].strip().startswith("#"):
            above -= 1
        comment = " ".join(line.strip() for line in lines[above + 1 : node.lineno - 1])
        if MARKER not in comment.lower():
            continue
        changes = frozenset(re.findall(r"`([^`]+)`", comment))
        body = getattr(node, "body", None)
        assert node.end_lineno is not None
        end = body[0].lineno - 1 if isinstance(body, list) and body else node.end_lineno
        for line in range(node.lineno, end + 1):
            marked[line] = changes
    return marked


class _Replace(ast.NodeTransformer):
    def __init__(self, target: ast.AST, replacement: Callable[[ast.AST], ast.AST]) -> None:
        self.target = target
        self.replacement = replacement

    def visit(self, node: ast.AST) -> ast.AST:
        if node is self.target:
            return self.replacement(node)
        visited: ast.AST = super().visit(node)
        return visited


def mutants(source: str, scopes: Sequence[str] = ()) -> list[Mutant]:
    """Every mutant of ``source`` within ``scopes``, each a whole module, none twice."""
    tree = ast.parse(source)
    lines = source.splitlines()
    ranges = _scope_lines(tree, scopes, len(lines))
    equivalent = _equivalent_changes(tree, lines)
    nodes = list(ast.walk(tree))
    tests = {id(n.test) for n in nodes if isinstance(n, ast.If | ast.While | ast.IfExp)}
    docstrings = {
        id(n.body[0])
        for n in nodes
        if isinstance(n, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        and n.body
        and isinstance(n.body[0], ast.Expr)
        and isinstance(n.body[0].value, ast.Constant)
        and isinstance(n.body[0].value.value, str)
    }
    in_asserts = {id(n) for a in nodes if isinstance(a, ast.Assert) for n in ast.walk(a)}
    original = ast.unparse(tree)
    found: list[Mutant] = []
    seen = {original}
    for index, node in enumerate(nodes):
        line = getattr(node, "lineno", None)
        if line is None or id(node) in in_asserts or not any(line in r for r in ranges):
            continue
        for change, make in _mutations(node, tests, docstrings):
            copied = copy.deepcopy(tree)
            target = list(ast.walk(copied))[index]
            mutated = ast.unparse(ast.fix_missing_locations(_Replace(target, make).visit(copied)))
            if mutated in seen:
                continue
            seen.add(mutated)
            code = lines[line - 1].strip()
            marked = equivalent.get(line)
            is_equivalent = marked is not None and (not marked or change in marked)
            found.append(Mutant(line, change, code, mutated, is_equivalent))
    return found


# ---- running the tests against each mutant ------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    mutant: Mutant
    killed: bool


def _run_tests(target: Target, overlay: Path, timeout: float) -> bool:
    """True when the target's tests pass with ``overlay`` first on the import path."""
    env = {**os.environ, "PYTHONPATH": str(overlay), "PYTHONDONTWRITEBYTECODE": "1"}
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider"]
    # A session of its own, so a timeout ends the tests' own subprocesses too.
    process = subprocess.Popen(
        [*command, *target.tests],
        cwd=PACKAGES / target.package,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        code = process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        return False
    if code == 5:
        raise SystemExit(f"mutation: the tests of {target.name!r} select no test")
    return code == 0


def run_target(target: Target, work: Path) -> list[Outcome] | None:
    """Each mutant's outcome; None when the tests fail on the unmutated module."""
    overlay = Path(tempfile.mkdtemp(dir=work)) / "src"
    shutil.copytree(
        PACKAGES / target.package / "src", overlay, ignore=shutil.ignore_patterns("__pycache__")
    )
    module = overlay / target.module
    original = module.read_text()
    started = time.monotonic()
    if not _run_tests(target, overlay, timeout=1800):
        return None
    timeout = 60 + 3 * (time.monotonic() - started)
    outcomes = []
    try:
        for mutant in mutants(original, target.scopes):
            module.write_text(mutant.source)
            outcomes.append(Outcome(mutant, killed=not _run_tests(target, overlay, timeout)))
    finally:
        module.write_text(original)
    return outcomes


def report(target: Target, outcomes: list[Outcome]) -> bool:
    """Print the target's score and survivors; True when it meets the goal."""
    killed = sum(o.killed for o in outcomes if not o.mutant.equivalent)
    equivalent = [o for o in outcomes if o.mutant.equivalent and not o.killed]
    counted = len(outcomes) - len(equivalent)
    score = killed / counted if counted else 1.0
    where = f"{target.package}/src/{target.module}"
    print(
        f"{target.name} ({where}): {killed}/{counted} killed = {score:.0%}"
        f" ({len(equivalent)} equivalent)",
        flush=True,
    )
    for outcome in outcomes:
        mutant = outcome.mutant
        if not outcome.killed:
            kind = "equivalent" if mutant.equivalent else "SURVIVED"
        elif mutant.equivalent:
            kind = "KILLED, yet marked equivalent"
        else:
            continue
        print(f"  {kind}: line {mutant.line}: {mutant.change}: {mutant.code}", flush=True)
    return score >= GOAL


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("targets", nargs="*", metavar="TARGET", help="target names (default all)")
    parser.add_argument("--list", action="store_true", help="list the targets and mutant counts")
    args = parser.parse_args(argv)
    chosen = [t for t in TARGETS if not args.targets or t.name in args.targets]
    unknown = set(args.targets) - {t.name for t in TARGETS}
    if unknown:
        parser.error(f"unknown target(s) {sorted(unknown)}; known: {[t.name for t in TARGETS]}")
    if args.list:
        for target in chosen:
            source = (PACKAGES / target.package / "src" / target.module).read_text()
            print(f"{target.name}: {len(mutants(source, target.scopes))} mutants")
        return 0
    ok = True
    with tempfile.TemporaryDirectory(prefix="yoi-mutation-") as work:
        for target in chosen:
            outcomes = run_target(target, Path(work))
            if outcomes is None:
                print(f"{target.name}: its tests fail without any mutation", flush=True)
                ok = False
                continue
            ok = report(target, outcomes) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
