"""Property-based check of the served OpenAPI document against the real server (schemathesis):
on generated valid and invalid input there is no 5xx, and every response conforms."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

pytestmark = pytest.mark.feature("http-server")

schemathesis = pytest.importorskip("schemathesis")  # installed in the http-server sessions

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from rest_server import ServerProcess, running_server  # noqa: E402
from schemathesis import GenerationMode, checks  # noqa: E402

TOKEN = "openapi-check-token"

OPERATIONS = [
    ("GET", "/v1/health"),
    ("GET", "/v1/runtime"),
    ("GET", "/v1/diagnostics"),
    ("GET", "/v1/events"),
    ("GET", "/v1/workers"),
    ("POST", "/v1/workers"),
    ("GET", "/v1/workers/{worker_id}"),
    ("POST", "/v1/workers/{worker_id}/input"),
    ("POST", "/v1/workers/{worker_id}/stop"),
    ("POST", "/v1/workers/{worker_id}/cancel"),
    ("GET", "/v1/workers/{worker_id}/transcript"),
    ("POST", "/v1/runtime/stop"),  # last: afterwards every mutation is a 409
]

CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.negative_data_rejection,
    checks.ignored_auth,
]


@pytest.fixture(scope="module")
def api_schema() -> Iterator[Any]:
    with running_server(
        "--store",
        "memory",
        "--local-token-env",
        "OPENAPI_TOKEN",
        "--max-event-wait",
        "0.05",
        "--max-transcript-projection-items",
        "20",
        env={"OPENAPI_TOKEN": TOKEN},
    ) as server:
        yield (
            server,
            schemathesis.openapi.from_url(
                server.url + "/v1/openapi.json", headers={"Authorization": f"Bearer {TOKEN}"}
            ),
        )


def test_every_operation_is_covered(api_schema: tuple[ServerProcess, Any]) -> None:
    _, schema = api_schema
    served = {
        (result.ok().method.upper(), result.ok().path) for result in schema.get_all_operations()
    }
    assert served == set(OPERATIONS)


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_generated_requests_get_conforming_answers(
    api_schema: tuple[ServerProcess, Any], method: str, path: str
) -> None:
    server, schema = api_schema
    operation = schema[path][method]
    cases = st.one_of(
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    )

    @given(case=cases)
    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
    def check(case: Any) -> None:
        case.call_and_validate(
            base_url=server.url, headers={"Authorization": f"Bearer {TOKEN}"}, checks=CHECKS
        )

    check()
