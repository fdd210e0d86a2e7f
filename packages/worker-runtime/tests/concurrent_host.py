"""Host a store-backed Runtime with 16 writers until killed, printing every acknowledged input.

Usage: python concurrent_host.py STORE_URL RUNTIME_ID. Sixteen threads each send input to a
Worker of their own (``w0`` ... ``w15``, created or restored on start) as fast as they can. Each
acknowledged input is printed as one JSON line, flushed, only after the Runtime returned it:
{"worker_id", "sequence", "event_id", "content"}; and after every commit that carried more than
one change, a line {"batch": N}. The parent SIGKILLs this process at any moment.
"""

from __future__ import annotations

import json
import os
import sys
import threading

from yoi_worker_runtime import (
    BuiltinProfile,
    CreateWorkerRequest,
    TaskIntent,
    WorkerInput,
    open_persistent_runtime,
)

WRITERS = 16


def main() -> None:
    store, runtime_id = sys.argv[1], sys.argv[2]
    runtime = open_persistent_runtime(store, runtime_id=runtime_id)
    printing = threading.Lock()

    def emit(line: dict[str, object]) -> None:
        with printing:
            print(json.dumps(line), flush=True)

    runtime.commit_observers.append(lambda size, _: emit({"batch": size}) if size > 1 else None)
    running = {worker.worker_id for worker in runtime.list_workers()}
    for index in range(WRITERS):
        if f"w{index}" not in running:
            runtime.create_worker(
                CreateWorkerRequest(
                    name=f"w{index}",
                    intent=TaskIntent(objective="crash"),
                    profile=BuiltinProfile(value="none"),
                )
            )
    emit({"ready": runtime.summary().last_event_id})
    start = threading.Barrier(WRITERS)

    def writer(index: int) -> None:
        ref = runtime.worker_ref(f"w{index}")
        start.wait()
        step = 0
        while True:
            step += 1
            content = f"w{index} input {step} of process {os.getpid()}"
            ack = runtime.send_input(ref, WorkerInput(kind="user", content=content))
            emit(
                {
                    "worker_id": ref.worker_id,
                    "sequence": ack.transcript_sequence,
                    "event_id": ack.event_id,
                    "content": content,
                }
            )

    threads = [threading.Thread(target=writer, args=(index,)) for index in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


if __name__ == "__main__":
    main()
