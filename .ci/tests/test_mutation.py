"""The mutation tester's mutants: which changes it makes, where, and which count as equivalent."""

from __future__ import annotations

import ast
import textwrap

import mutation
import pytest

SOURCE = textwrap.dedent(
    '''
    """A module."""

    LIMIT = 10


    def check(value, names):
        """Checked."""
        assert value is not None
        if value < LIMIT and value in names:
            return min(value, 3)
        if not names:
            raise ValueError("empty")
        return value + 1


    class Box:
        def opened(self, flag):
            return flag
    '''
)


def changes(source: str, scopes: tuple[str, ...] = ()) -> list[tuple[int, str]]:
    return [(m.line, m.change) for m in mutation.mutants(source, scopes)]


def test_each_kind_of_change_is_made_once_per_place() -> None:
    made = changes(SOURCE, ("check",))
    assert made.count((10, "< -> <=")) == 1
    assert (10, "in -> not in") in made and (10, "and -> or") in made
    assert (11, "min -> max") in made and (11, "3 -> 4") in made
    assert (12, "not removed") in made
    assert (14, "+ -> -") in made and (14, "1 -> 2") in made
    assert (13, "statement removed") in made and (14, "statement removed") in made
    assert len(made) == len(set(made))


def test_docstrings_asserts_and_code_outside_the_scopes_stay_as_they_are() -> None:
    made = changes(SOURCE, ("check",))
    assert all(line in range(7, 15) for line, _ in made)
    assert (8, "statement removed") not in made  # the docstring
    assert not [change for line, change in made if line == 9]  # the assert
    assert changes(SOURCE, ("Box.opened",)) == [
        (18, "statement removed"),
        (19, "statement removed"),
    ]
    with pytest.raises(SystemExit, match="no function or class named nothing"):
        changes(SOURCE, ("nothing",))


def test_a_condition_that_is_not_a_comparison_is_negated() -> None:
    source = "def f(x):\n    if x:\n        return 1\n    return 2\n"
    mutants = mutation.mutants(source)
    [negated] = [m for m in mutants if m.change == "condition negated"]
    assert "if not x:" in negated.source


def test_every_mutant_is_a_whole_module_that_compiles_and_differs() -> None:
    original = ast.unparse(ast.parse(SOURCE))
    sources = [m.source for m in mutation.mutants(SOURCE)]
    assert len(set(sources)) == len(sources) and original not in sources
    for source in sources:
        compile(source, "mutant", "exec")


def test_a_comment_names_the_equivalent_changes_of_the_statement_below() -> None:
    source = textwrap.dedent(
        """
        def f(x):
            # Equivalent mutants `< -> <=`: 5 never comes.
            if x < 5 and x > 1:
                return 1
            # equivalent mutant (no names: every change here)
            return x + 1
        """
    )
    marked = {(m.line, m.change): m.equivalent for m in mutation.mutants(source)}
    assert marked[(4, "< -> <=")] is True
    assert marked[(4, "> -> >=")] is False
    assert marked[(5, "statement removed")] is False  # the body is not the header
    assert marked[(7, "+ -> -")] is True and marked[(7, "statement removed")] is True
