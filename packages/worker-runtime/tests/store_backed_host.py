"""Host a store-backed Runtime until killed: create Workers, send input, print every ack.

Usage: python store_backed_host.py STORE_URL RUNTIME_ID. Each acknowledged change is printed as one
JSON line, flushed, only after the Runtime returned it: {"event_id", "kind", "worker_id",
"sequence"?, "content"?}. The parent SIGKILLs this process at any moment.
"""

from __future__ import annotations

import json
import sys

from yoi_worker_runtime import (
    BuiltinProfile,
    CreateWorkerRequest,
    TaskIntent,
    WorkerInput,
    open_persistent_runtime,
)


def main() -> None:
    store, runtime_id = sys.argv[1], sys.argv[2]
    runtime = open_persistent_runtime(store, runtime_id=runtime_id)
    print(json.dumps({"ready": runtime.summary().last_event_id}), flush=True)
    refs = [worker.worker_ref for worker in runtime.list_workers() if worker.status == "running"]
    step = 0
    while True:
        step += 1
        if not refs or step % 7 == 0:
            detail = runtime.create_worker(
                CreateWorkerRequest(
                    intent=TaskIntent(objective="crash"), profile=BuiltinProfile(value="none")
                )
            )
            refs.append(detail.worker_ref)
            ack = {"event_id": detail.last_event_id, "kind": "worker_created"}
            print(json.dumps({**ack, "worker_id": detail.worker_id}), flush=True)
            continue
        ref = refs[step % len(refs)]
        content = f"input {step} of pid-run {runtime.summary().last_event_id}"
        result = runtime.send_input(ref, WorkerInput(kind="user", content=content))
        line = {
            "event_id": result.event_id,
            "kind": "worker_input_accepted",
            "worker_id": ref.worker_id,
            "sequence": result.transcript_sequence,
            "content": content,
        }
        print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
