"""Host a Runtime on a store URL: create the named Workers, send each input, then wait.

Usage: python runtime_host.py STORE_URL RUNTIME_ID WORKER... Prints one JSON line once every
change is acknowledged ({"ready": last_event_id}); closes the Runtime cleanly when stdin ends
and prints {"closed": true}. The parent may SIGKILL it at any moment instead.
"""

from __future__ import annotations

import json
import sys

from yoi_worker_runtime import (
    CreateWorkerRequest,
    RuntimeDefaultProfile,
    TaskIntent,
    WorkerInput,
    open_persistent_runtime,
)


def main() -> None:
    store, runtime_id, *workers = sys.argv[1:]
    runtime = open_persistent_runtime(store, runtime_id=runtime_id)
    for name in workers:
        detail = runtime.create_worker(
            CreateWorkerRequest(
                name=name, intent=TaskIntent(objective=name), profile=RuntimeDefaultProfile()
            )
        )
        for n in range(3):
            runtime.send_input(detail.worker_ref, WorkerInput(kind="user", content=f"{name} {n}"))
    print(json.dumps({"ready": runtime.summary().last_event_id}), flush=True)
    sys.stdin.read()
    runtime.close()
    print(json.dumps({"closed": True}), flush=True)


if __name__ == "__main__":
    main()
