"""The bare baseline server of the REST benchmarks, as a process: ``_bare_server.py FILE``.

Not a benchmark itself (``bench`` skips it): it serves the canned answers in FILE with a bare
starlette handler on the old, pure-Python stack and prints a ready line.
"""

from __future__ import annotations

import sys

from rest_common import bare_server

if __name__ == "__main__":
    bare_server(sys.argv[1])
