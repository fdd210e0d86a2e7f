"""Session store backends: ``fs`` (the default) and ``memory``, plus the rules every backend shares.

Third-party backends call these too, so that every store accepts, encodes and checks exactly
the same lines: :func:`check_ids` (session and segment ids), :func:`encode_new_segment` and
:func:`encode_appended` (the ``segment_start`` rules and the one encoding of a line) and
:func:`check_segment_head` (the rule for a segment's first line when reading).
"""

from yoi_session_store.backends._common import (
    check_ids,
    check_segment_head,
    encode_appended,
    encode_new_segment,
)

__all__ = ["check_ids", "check_segment_head", "encode_appended", "encode_new_segment"]
