"""Host a Runtime with one Worker, then send one input per line read from stdin.

Usage: python stalling_host.py STORE_URL RUNTIME_ID. Prints {"ready": true} once the Worker
exists, then for every stdin line one JSON line: {"ok": sequence} or {"error": code}. The parent
freezes it with SIGSTOP to play a stalled host whose lease runs out.
"""

from __future__ import annotations

import json
import sys

from yoi_worker_runtime import (
    CreateWorkerRequest,
    RuntimeDefaultProfile,
    TaskIntent,
    WorkerInput,
    WorkerRuntimeError,
    open_persistent_runtime,
)


def main() -> None:
    store, runtime_id = sys.argv[1:]
    runtime = open_persistent_runtime(store, runtime_id=runtime_id)
    ref = runtime.create_worker(
        CreateWorkerRequest(
            name="w", intent=TaskIntent(objective="w"), profile=RuntimeDefaultProfile()
        )
    ).worker_ref
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        try:
            ack = runtime.send_input(ref, WorkerInput(kind="user", content=line.strip()))
            print(json.dumps({"ok": ack.transcript_sequence}), flush=True)
        except WorkerRuntimeError as error:
            print(json.dumps({"error": error.code, "message": error.message}), flush=True)


if __name__ == "__main__":
    main()
