"""Identities: the name rule, and generated ids unique across processes."""

from __future__ import annotations

import re
import subprocess
import sys

from hypothesis import given
from hypothesis import strategies as st
from yoi_worker_runtime import (
    WORKER_NAME_PATTERN,
    InvalidWorkerId,
    new_runtime_id,
    new_worker_id,
    validate_worker_name,
)


@given(st.text(max_size=90) | st.from_regex(WORKER_NAME_PATTERN, fullmatch=True))
def test_the_name_rule_accepts_exactly_the_pattern(name: str) -> None:
    matches = re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,79}", name) is not None
    try:
        assert validate_worker_name(name) == name
        accepted = True
    except InvalidWorkerId as error:
        accepted = False
        assert error.message.startswith("invalid request: worker name")
    assert accepted == matches


def test_a_trailing_newline_is_not_a_valid_name() -> None:
    try:
        validate_worker_name("abc\n")
    except InvalidWorkerId as error:
        assert "contains '\\n'" in error.message
    else:
        raise AssertionError("accepted a name with a newline")


def test_generated_ids_are_uuid7_based_and_follow_the_name_rule() -> None:
    worker_id, runtime_id = new_worker_id(), new_runtime_id()
    assert re.fullmatch(r"worker-[0-9a-f]{12}7[0-9a-f]{3}[89ab][0-9a-f]{15}", worker_id)
    assert re.fullmatch(r"runtime-[0-9a-f]{12}7[0-9a-f]{3}[89ab][0-9a-f]{15}", runtime_id)
    assert validate_worker_name(worker_id) == worker_id
    assert validate_worker_name(runtime_id) == runtime_id


def test_ids_generated_in_parallel_processes_never_collide() -> None:
    code = (
        "from yoi_worker_runtime import new_worker_id, new_runtime_id\n"
        "for _ in range(2000): print(new_worker_id()); print(new_runtime_id())"
    )
    processes = [
        subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    ids: list[str] = []
    for process in processes:
        out, _ = process.communicate(timeout=60)
        assert process.returncode == 0
        ids += out.split()
    assert len(ids) == 4 * 4000
    assert len(set(ids)) == len(ids)
