"""The Runtime contract of the reference, run against every way of opening a Runtime.

``open_runtime`` is parametrised: ``memory`` (the core default), ``recording`` (a persistence
that keeps every write, so the write-ahead path runs under each behaviour), and with the
``fs-store`` feature ``fs-store`` (real files in tmp_path) and ``fs-store-memory`` (the stores'
``memory://`` backends). Each call opens a fresh store.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from recording_persistence import RecordingPersistence
from yoi_worker_runtime import (
    AssistantIntent,
    BuiltinProfile,
    ConfigBundleRef,
    CreateWorkerRequest,
    EventCursor,
    InvalidRequest,
    InvalidWorkerId,
    LimitTooLarge,
    NamedProfile,
    RequestedCapability,
    ResourceRef,
    RoleIntent,
    Runtime,
    RuntimeLimits,
    RuntimeStopped,
    TaskIntent,
    WorkerConflict,
    WorkerInput,
    WorkerNotFound,
    WorkerNotRunning,
    WorkerRef,
    WrongRuntime,
    WrongRuntimeCursor,
)
from yoi_worker_runtime.profiles import parse_config
from yoi_worker_runtime.timestamps import TIMESTAMP_PATTERN
from yoi_worker_runtime.tools import Tool

OpenRuntime = Callable[..., Runtime]

#: A named profile for the tests that name one (it records input only) and a tool to request.
CONTRACT_CONFIG = parse_config(
    {"profiles": {"careful": {"engine": "none"}}, "allow_tools": ["shell"]}
)
SHELL = Tool(name="shell", description="runs commands", run=lambda arguments, context: "")


@pytest.fixture(
    params=[
        "memory",
        "recording",
        pytest.param("fs-store", marks=pytest.mark.feature("fs-store")),
        pytest.param("fs-store-memory", marks=pytest.mark.feature("fs-store")),
    ]
)
def open_runtime(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[OpenRuntime]:
    opened: list[Runtime] = []
    monkeypatch.setenv("YOI_RUNTIME_DIR", str(tmp_path / "run"))

    def open_(**options: Any) -> Runtime:
        options.setdefault("config", CONTRACT_CONFIG)
        options.setdefault("tools", {"shell": SHELL})
        if request.param == "recording":
            options.setdefault("persistence", RecordingPersistence())
        if request.param.startswith("fs-store"):
            from yoi_worker_runtime import open_persistent_runtime

            store = (
                f"fs://{tmp_path / f'data{len(opened)}'}"
                if request.param == "fs-store"
                else f"memory://contract-{uuid.uuid4().hex}"
            )
            runtime = open_persistent_runtime(store, **options)
        else:
            runtime = Runtime.open(**options)
        opened.append(runtime)
        return runtime

    yield open_
    for runtime in opened:
        runtime.close()


@pytest.fixture
def runtime(open_runtime: OpenRuntime) -> Runtime:
    return open_runtime(runtime_id="rt-test", display_name="test runtime")


def task(objective: str = "summarise the report", **fields: Any) -> CreateWorkerRequest:
    """A Worker that only records input (turns have tests of their own)."""
    fields.setdefault("profile", BuiltinProfile(value="none"))
    return CreateWorkerRequest(intent=TaskIntent(objective=objective), **fields)


def user(content: str) -> WorkerInput:
    return WorkerInput(kind="user", content=content)


# --- open, identities -------------------------------------------------------------------------


def test_a_fresh_runtime_is_running_and_event_1_is_runtime_started(
    open_runtime: OpenRuntime,
) -> None:
    runtime = open_runtime()
    assert runtime.status == "running"
    assert runtime.runtime_id.startswith("runtime-")
    batch = runtime.read_events(runtime.event_cursor_from_start())
    assert [(event.id, event.kind) for event in batch.events] == [(1, "runtime_started")]
    assert batch.runtime_id == runtime.runtime_id
    assert runtime.display_name == runtime.runtime_id


def test_generated_runtime_and_worker_ids_differ_between_runtimes(
    open_runtime: OpenRuntime,
) -> None:
    first, second = open_runtime(), open_runtime()
    assert first.runtime_id != second.runtime_id
    a = first.create_worker(task())
    b = second.create_worker(task())
    assert a.worker_id != b.worker_id
    assert a.worker_id.startswith("worker-") and len(a.worker_id) == len("worker-") + 32


def test_runtime_options_are_validated(open_runtime: OpenRuntime) -> None:
    with pytest.raises(InvalidRequest, match=r"runtime id 'bad id' contains ' '"):
        open_runtime(runtime_id="bad id")
    with pytest.raises(InvalidRequest, match=r"display name must not be blank"):
        open_runtime(display_name="  ")
    with pytest.raises(InvalidRequest, match=r"max_event_batch_items: must be at least 1"):
        open_runtime(limits=RuntimeLimits(max_event_batch_items=0))


# --- create -----------------------------------------------------------------------------------


def test_create_worker_returns_a_running_worker_with_timestamps_and_an_event(
    runtime: Runtime,
) -> None:
    detail = runtime.create_worker(task(name="reviewer"))
    assert detail.worker_ref == WorkerRef(runtime_id="rt-test", worker_id="reviewer")
    assert (detail.runtime_id, detail.worker_id, detail.status) == (
        "rt-test",
        "reviewer",
        "running",
    )
    assert detail.intent == TaskIntent(objective="summarise the report")
    assert detail.transcript_len == 0
    assert detail.last_event_id == 2
    assert detail.created_at == detail.updated_at
    assert __import__("re").match(TIMESTAMP_PATTERN, detail.created_at)
    event = runtime.read_events(EventCursor(runtime_id="rt-test", next_event_id=2)).events[0]
    assert (event.id, event.kind, event.message) == (2, "worker_created", "worker reviewer created")
    assert event.worker_ref == detail.worker_ref


def test_create_keeps_every_part_of_the_request(runtime: Runtime) -> None:
    request = CreateWorkerRequest(
        name="builder",
        intent=RoleIntent(role="builder", purpose="build things"),
        profile=NamedProfile(value="careful"),
        config_bundle=ConfigBundleRef(id="bundle-1"),
        requested_capabilities=(RequestedCapability(name="shell", reason="run tests"),),
        workspace_refs=(ResourceRef(name="repo", reference="git:main"),),
        mount_refs=(ResourceRef(name="data", reference="/srv/data"),),
    )
    detail = runtime.create_worker(request)
    assert detail.intent == request.intent and detail.profile == request.profile
    assert detail.config_bundle == request.config_bundle
    assert detail.requested_capabilities == request.requested_capabilities
    assert detail.workspace_refs == request.workspace_refs
    assert detail.mount_refs == request.mount_refs
    assert runtime.worker_detail(detail.worker_ref) == detail


def test_create_needs_a_running_runtime(runtime: Runtime) -> None:
    runtime.stop_runtime()
    with pytest.raises(RuntimeStopped, match=r"^runtime rt-test is stopped$"):
        runtime.create_worker(task())


@pytest.mark.parametrize(
    ("request_", "problem"),
    [
        (task(objective="   "), r"\$\.intent\.objective: must not be blank"),
        (task(objective=""), r"\$\.intent\.objective: must not be empty"),
        (
            task(
                requested_capabilities=(
                    RequestedCapability(name="ok"),
                    RequestedCapability(name=" "),
                )
            ),
            r"\$\.requested_capabilities\[1\]\.name: must not be blank",
        ),
        (
            CreateWorkerRequest(intent=RoleIntent(role=""), profile=BuiltinProfile(value="x")),
            r"\$\.intent\.role: must not be empty",
        ),
        (
            CreateWorkerRequest(intent=AssistantIntent(), profile=BuiltinProfile(value=" ")),
            r"\$\.profile\.value: must not be blank",
        ),
    ],
)
def test_invalid_create_requests_are_refused_and_change_nothing(
    runtime: Runtime, request_: CreateWorkerRequest, problem: str
) -> None:
    before = runtime.summary()
    with pytest.raises(InvalidRequest, match=r"^invalid request: " + problem):
        runtime.create_worker(request_)
    assert runtime.summary() == before
    assert runtime.list_workers() == []


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        ("", "must not be empty"),
        ("-lead", "must start with an ASCII letter or digit"),
        ("a/b", "contains '/'"),
        ("é", "must start with an ASCII letter or digit"),
        ("x" * 81, "is 81 characters long; at most 80 are allowed"),
    ],
)
def test_a_worker_name_breaking_the_name_rule_says_which_rule(
    runtime: Runtime, name: str, rule: str
) -> None:
    with pytest.raises(InvalidWorkerId, match=rule) as caught:
        runtime.create_worker(task(name=name))
    assert caught.value.code == "invalid_worker_id"
    assert runtime.list_workers() == []


def test_a_name_already_used_in_the_runtime_is_a_conflict(runtime: Runtime) -> None:
    runtime.create_worker(task(name="reviewer"))
    with pytest.raises(
        WorkerConflict, match=r"^worker reviewer already exists in runtime rt-test$"
    ):
        runtime.create_worker(task(name="reviewer"))
    assert len(runtime.list_workers()) == 1


# --- list, detail, authority ------------------------------------------------------------------


def test_list_workers_is_ordered_by_id(runtime: Runtime) -> None:
    for name in ["charlie", "alpha", "bravo"]:
        runtime.create_worker(task(name=name))
    summaries = runtime.list_workers()
    assert [summary.worker_id for summary in summaries] == ["alpha", "bravo", "charlie"]
    first = summaries[0]
    assert first.requested_capability_count == 0 and first.has_config_bundle is False
    assert first.status == "running" and first.transcript_len == 0


def test_wrong_runtime_is_checked_before_not_found(runtime: Runtime) -> None:
    runtime.create_worker(task(name="reviewer"))
    foreign = WorkerRef(runtime_id="rt-other", worker_id="reviewer")
    message = "^worker reviewer belongs to runtime rt-other, not runtime rt-test$"
    with pytest.raises(WrongRuntime, match=message):
        runtime.worker_detail(foreign)
    with pytest.raises(WrongRuntime):
        runtime.send_input(foreign, user("hello"))
    with pytest.raises(WrongRuntime):
        runtime.stop_worker(foreign)
    with pytest.raises(WrongRuntime):
        runtime.transcript_projection(WorkerRef(runtime_id="rt-other", worker_id="nobody"))


def test_an_unknown_worker_is_not_found(runtime: Runtime) -> None:
    missing = runtime.worker_ref("nobody")
    with pytest.raises(
        WorkerNotFound, match=r"^worker nobody was not found in runtime rt-test$"
    ) as caught:
        runtime.worker_detail(missing)
    assert caught.value.code == "worker_not_found"
    with pytest.raises(WorkerNotFound):
        runtime.send_input(missing, user("hello"))
    with pytest.raises(WorkerNotFound):
        runtime.cancel_worker(missing)
    with pytest.raises(WorkerNotFound):
        runtime.transcript_projection(missing)


# --- input ------------------------------------------------------------------------------------


def test_input_lands_in_the_transcript_with_an_ack_and_an_event(runtime: Runtime) -> None:
    ref = runtime.create_worker(task(name="reviewer")).worker_ref
    first = runtime.send_input(ref, user("hello"))
    second = runtime.send_input(ref, WorkerInput(kind="system", content="be brief"))
    assert (first.transcript_sequence, first.event_id, first.status) == (1, 3, "running")
    assert (second.transcript_sequence, second.event_id) == (2, 4)
    items = runtime.transcript_projection(ref).items
    assert [(item.sequence, item.role, item.content, item.event_id) for item in items] == [
        (1, "user", "hello", 3),
        (2, "system", "be brief", 4),
    ]
    assert all(item.worker_ref == ref for item in items)
    detail = runtime.worker_detail(ref)
    assert (detail.transcript_len, detail.last_event_id) == (2, 4)
    assert detail.updated_at >= detail.created_at
    events = runtime.read_events(EventCursor(runtime_id="rt-test", next_event_id=3)).events
    assert [(event.kind, event.message) for event in events] == [
        ("worker_input_accepted", "user input accepted"),
        ("worker_input_accepted", "system input accepted"),
    ]


@pytest.mark.parametrize("content", ["", "   ", "\n\t"])
def test_blank_content_is_refused_and_changes_nothing(runtime: Runtime, content: str) -> None:
    ref = runtime.create_worker(task(name="reviewer")).worker_ref
    with pytest.raises(InvalidRequest, match=r"^invalid request: \$\.content: must not be"):
        runtime.send_input(ref, user(content))
    assert runtime.worker_detail(ref).transcript_len == 0
    assert runtime.summary().last_event_id == 2


def test_input_to_a_stopped_worker_is_refused(runtime: Runtime) -> None:
    ref = runtime.create_worker(task(name="reviewer")).worker_ref
    runtime.stop_worker(ref)
    with pytest.raises(
        WorkerNotRunning, match=r"^invalid request: worker reviewer is not running$"
    ) as caught:
        runtime.send_input(ref, user("hello"))
    assert isinstance(caught.value, InvalidRequest)
    assert caught.value.code == "worker_not_running"


def test_input_after_the_runtime_stopped_is_refused(runtime: Runtime) -> None:
    ref = runtime.create_worker(task(name="reviewer")).worker_ref
    runtime.stop_runtime()
    with pytest.raises(RuntimeStopped):
        runtime.send_input(ref, user("hello"))


# --- stop, cancel -----------------------------------------------------------------------------


def test_stop_then_stop_again_writes_nothing_the_second_time(runtime: Runtime) -> None:
    ref = runtime.create_worker(task(name="reviewer")).worker_ref
    ack = runtime.stop_worker(ref, reason="done for today")
    assert (ack.status, ack.event_id, ack.changed) == ("stopped", 3, True)
    event = runtime.read_events(EventCursor(runtime_id="rt-test", next_event_id=3)).events[0]
    assert (event.kind, event.message) == ("worker_stopped", "done for today")
    assert runtime.worker_detail(ref).status_reason == "done for today"
    again = runtime.stop_worker(ref)
    assert (again.status, again.event_id, again.changed) == ("stopped", 3, False)
    assert runtime.summary().last_event_id == 3


def test_the_first_terminal_state_is_final(runtime: Runtime) -> None:
    ref = runtime.create_worker(task(name="reviewer")).worker_ref
    cancelled = runtime.cancel_worker(ref)
    assert (cancelled.status, cancelled.changed) == ("cancelled", True)
    event = runtime.read_events(EventCursor(runtime_id="rt-test", next_event_id=3)).events[0]
    assert (event.kind, event.message) == ("worker_cancelled", "worker cancelled")
    stop = runtime.stop_worker(ref, reason="too late")
    assert (stop.status, stop.event_id, stop.changed) == ("cancelled", cancelled.event_id, False)
    assert runtime.worker_detail(ref).status == "cancelled"
    other = runtime.create_worker(task(name="other")).worker_ref
    runtime.stop_worker(other)
    assert runtime.cancel_worker(other).status == "stopped"
    assert runtime.summary().last_event_id == 5


def test_a_blank_reason_falls_back_to_the_default_message(runtime: Runtime) -> None:
    ref = runtime.create_worker(task(name="reviewer")).worker_ref
    runtime.stop_worker(ref, reason="  ")
    event = runtime.read_events(EventCursor(runtime_id="rt-test", next_event_id=3)).events[0]
    assert event.message == "worker stopped"
    assert runtime.worker_detail(ref).status_reason is None


# --- text: lone surrogates --------------------------------------------------------------------

#: A lone UTF-16 surrogate, as JSON's "\\ud800" decodes: not text, and no store can write it.
SURROGATE = "\ud800"


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (task(objective=SURROGATE), "intent.objective"),
        (
            CreateWorkerRequest(
                intent=AssistantIntent(purpose=SURROGATE), profile=BuiltinProfile(value="none")
            ),
            "intent.purpose",
        ),
        (
            CreateWorkerRequest(
                intent=RoleIntent(role="r", purpose=f"a{SURROGATE}b"),
                profile=BuiltinProfile(value="none"),
            ),
            "intent.purpose",
        ),
        (
            CreateWorkerRequest(intent=AssistantIntent(), profile=NamedProfile(value=SURROGATE)),
            "profile.value",
        ),
        (task(config_bundle=ConfigBundleRef(id=SURROGATE)), "config_bundle.id"),
        (
            task(requested_capabilities=(RequestedCapability(name="shell", reason=SURROGATE),)),
            r"requested_capabilities\[0\].reason",
        ),
        (
            task(workspace_refs=(ResourceRef(name="n", reference=SURROGATE),)),
            r"workspace_refs\[0\].reference",
        ),
        (task(mount_refs=(ResourceRef(name=SURROGATE, reference="r"),)), r"mount_refs\[0\].name"),
    ],
)
def test_a_lone_surrogate_in_any_text_of_a_create_is_refused_naming_it(
    runtime: Runtime, request_: CreateWorkerRequest, field: str
) -> None:
    before = runtime.summary()
    with pytest.raises(
        InvalidRequest, match=rf"\$\.{field}: contains a lone surrogate \(U\+D800\)"
    ):
        runtime.create_worker(request_)
    assert runtime.summary() == before


def test_a_lone_surrogate_in_input_or_a_reason_is_refused_and_writes_nothing(
    runtime: Runtime,
) -> None:
    ref = runtime.create_worker(task(name="reviewer")).worker_ref
    with pytest.raises(InvalidRequest, match=r"\$\.content: contains a lone surrogate"):
        runtime.send_input(ref, user(f"caf{SURROGATE}"))
    with pytest.raises(InvalidRequest, match=r"\$\.reason: contains a lone surrogate"):
        runtime.stop_worker(ref, reason=SURROGATE)
    with pytest.raises(InvalidRequest, match=r"\$\.reason: contains a lone surrogate"):
        runtime.cancel_worker(ref, reason=SURROGATE)
    assert runtime.worker_detail(ref).transcript_len == 0
    assert runtime.worker_detail(ref).status == "running"
    assert runtime.summary().last_event_id == 2
    # A surrogate pair is one real character, and welcome.
    assert runtime.send_input(ref, user("\U0001f600")).transcript_sequence == 1


def test_a_display_name_with_a_lone_surrogate_is_refused(open_runtime: OpenRuntime) -> None:
    with pytest.raises(InvalidRequest, match=r"display name contains a lone surrogate"):
        open_runtime(display_name=f"bad{SURROGATE}")


# --- stop runtime -----------------------------------------------------------------------------


def test_stop_runtime_stops_running_workers_and_keeps_reads_working(runtime: Runtime) -> None:
    a = runtime.create_worker(task(name="a")).worker_ref
    b = runtime.create_worker(task(name="b")).worker_ref
    c = runtime.create_worker(task(name="c")).worker_ref
    runtime.send_input(a, user("hello"))
    runtime.cancel_worker(c)
    ack = runtime.stop_runtime()
    assert (ack.status, ack.changed, ack.event_id) == ("stopped", True, 9)
    assert runtime.status == "stopped"
    events = runtime.read_events(EventCursor(runtime_id="rt-test", next_event_id=7)).events
    assert [(event.kind, event.worker_ref) for event in events] == [
        ("worker_stopped", a),
        ("worker_stopped", b),
        ("runtime_stopped", None),
    ]
    assert [summary.status for summary in runtime.list_workers()] == [
        "stopped",
        "stopped",
        "cancelled",
    ]
    assert runtime.transcript_projection(a).total_items == 1
    assert runtime.worker_detail(b).status_reason == "runtime stopped"
    summary = runtime.summary()
    assert (summary.status, summary.active_worker_count, summary.stopped_worker_count) == (
        "stopped",
        0,
        2,
    )
    for mutation in (
        lambda: runtime.create_worker(task()),
        lambda: runtime.send_input(a, user("x")),
        lambda: runtime.stop_worker(a),
        lambda: runtime.cancel_worker(a),
    ):
        with pytest.raises(RuntimeStopped, match=r"^runtime rt-test is stopped$"):
            mutation()
    again = runtime.stop_runtime()
    assert (again.changed, again.event_id) == (False, 9)
    assert runtime.summary().last_event_id == 9


# --- transcript projection --------------------------------------------------------------------


def test_transcript_pages_walk_to_the_end(open_runtime: OpenRuntime) -> None:
    limits = RuntimeLimits(max_transcript_projection_items=4)
    runtime = open_runtime(runtime_id="rt-test", limits=limits)
    ref = runtime.create_worker(task(name="reviewer")).worker_ref
    for number in range(10):
        runtime.send_input(ref, user(f"message {number}"))
    default = runtime.transcript_projection(ref)
    assert (default.start, default.limit, default.total_items, default.next_start) == (0, 4, 10, 4)
    seen: list[str] = []
    start: int | None = 0
    pages = 0
    while start is not None:
        page = runtime.transcript_projection(ref, start=start, limit=3)
        assert page.worker_ref == ref and page.limit == 3
        seen += [item.content for item in page.items]
        start = page.next_start
        pages += 1
    assert seen == [f"message {number}" for number in range(10)]
    assert pages == 4
    exact = runtime.transcript_projection(ref, start=8, limit=2)
    assert ([item.sequence for item in exact.items], exact.next_start) == ([9, 10], None)
    past = runtime.transcript_projection(ref, start=50)
    assert (past.items, past.next_start, past.total_items) == ((), None, 10)


def test_transcript_limit_zero_and_too_large_are_refused(open_runtime: OpenRuntime) -> None:
    limits = RuntimeLimits(max_transcript_projection_items=4)
    runtime = open_runtime(runtime_id="rt-test", limits=limits)
    ref = runtime.create_worker(task(name="reviewer")).worker_ref
    with pytest.raises(LimitTooLarge, match=r"^limit 5 exceeds maximum 4$") as caught:
        runtime.transcript_projection(ref, limit=5)
    assert caught.value.code == "limit_too_large"
    with pytest.raises(InvalidRequest, match=r"^invalid request: limit must be at least 1, got 0$"):
        runtime.transcript_projection(ref, limit=0)
    with pytest.raises(InvalidRequest, match=r"start must be an integer of at least 0"):
        runtime.transcript_projection(ref, start=-1)


def test_an_empty_transcript_has_no_next_page(runtime: Runtime) -> None:
    ref = runtime.create_worker(task(name="reviewer")).worker_ref
    page = runtime.transcript_projection(ref)
    assert (page.total_items, page.items, page.next_start, page.limit) == (0, (), None, 256)


# --- events -----------------------------------------------------------------------------------


def test_events_from_start_are_dense_and_page_with_has_more(open_runtime: OpenRuntime) -> None:
    runtime = open_runtime(runtime_id="rt-test", limits=RuntimeLimits(max_event_batch_items=3))
    ref = runtime.create_worker(task(name="reviewer")).worker_ref
    for number in range(5):
        runtime.send_input(ref, user(f"m{number}"))
    cursor = runtime.event_cursor_from_start()
    assert cursor == EventCursor(runtime_id="rt-test", next_event_id=1)
    ids: list[int] = []
    flags: list[bool] = []
    while True:
        batch = runtime.read_events(cursor)
        ids += [event.id for event in batch.events]
        flags.append(batch.has_more)
        cursor = batch.cursor
        if not batch.has_more:
            break
    assert ids == list(range(1, 8))
    assert flags == [True, True, False]
    assert cursor.next_event_id == 8
    assert runtime.read_events(cursor).events == ()


def test_a_cursor_from_now_sees_only_later_events(runtime: Runtime) -> None:
    runtime.create_worker(task(name="a"))
    cursor = runtime.event_cursor_now()
    assert cursor.next_event_id == 3
    assert runtime.read_events(cursor).events == ()
    runtime.create_worker(task(name="b"))
    batch = runtime.read_events(cursor)
    assert [(event.id, event.kind) for event in batch.events] == [(3, "worker_created")]
    assert batch.has_more is False


def test_event_cursor_checks(open_runtime: OpenRuntime) -> None:
    runtime = open_runtime(runtime_id="rt-test", limits=RuntimeLimits(max_event_batch_items=3))
    with pytest.raises(
        WrongRuntimeCursor, match=r"^event cursor belongs to runtime rt-x, not runtime rt-test$"
    ):
        runtime.read_events(EventCursor(runtime_id="rt-x", next_event_id=1))
    with pytest.raises(InvalidRequest, match=r"at least 1"):
        runtime.read_events(EventCursor(runtime_id="rt-test", next_event_id=0))
    with pytest.raises(InvalidRequest, match=r"past the end of the log"):
        runtime.read_events(EventCursor(runtime_id="rt-test", next_event_id=3))
    with pytest.raises(LimitTooLarge, match=r"^limit 4 exceeds maximum 3$"):
        runtime.read_events(runtime.event_cursor_from_start(), limit=4)
    with pytest.raises(InvalidRequest, match=r"limit must be at least 1"):
        runtime.read_events(runtime.event_cursor_from_start(), limit=0)


def test_events_carry_timestamps_in_order(runtime: Runtime) -> None:
    ref = runtime.create_worker(task(name="a")).worker_ref
    runtime.send_input(ref, user("hi"))
    events = runtime.read_events(runtime.event_cursor_from_start()).events
    stamps = [event.at for event in events]
    assert stamps == sorted(stamps)
    transcript_entry = runtime.transcript_projection(ref).items[0]
    assert transcript_entry.at == events[-1].at


# --- diagnostics and summary ------------------------------------------------------------------


def test_diagnostics_name_default_resources_and_tools_less_workers(runtime: Runtime) -> None:
    bare = runtime.create_worker(task(name="bare")).worker_ref
    runtime.create_worker(
        task(
            name="equipped",
            config_bundle=ConfigBundleRef(id="bundle"),
            requested_capabilities=(RequestedCapability(name="shell"),),
        )
    )
    tools_only = runtime.create_worker(
        task(name="tools", requested_capabilities=(RequestedCapability(name="shell"),))
    ).worker_ref
    diagnostics = runtime.diagnostics()
    assert [(item.code, item.worker_ref, item.severity) for item in diagnostics] == [
        ("runtime.local_default_resources", bare, "info"),
        ("worker.tools_less", bare, "info"),
        ("runtime.local_default_resources", tools_only, "info"),
    ]
    assert len({item.id for item in diagnostics}) == 3
    assert "bare" in diagnostics[0].message


def test_summary_counts(runtime: Runtime) -> None:
    refs = [runtime.create_worker(task(name=f"w{number}")).worker_ref for number in range(4)]
    runtime.stop_worker(refs[0])
    runtime.cancel_worker(refs[1])
    runtime.cancel_worker(refs[2])
    summary = runtime.summary()
    assert summary.runtime_id == "rt-test" and summary.display_name == "test runtime"
    assert summary.status == "running"
    assert (
        summary.worker_count,
        summary.active_worker_count,
        summary.stopped_worker_count,
        summary.cancelled_worker_count,
    ) == (4, 1, 1, 2)
    assert summary.diagnostic_count == 8
    assert summary.last_event_id == 8
    assert summary.limits == RuntimeLimits()
    assert summary.backend in ("memory", "store")
