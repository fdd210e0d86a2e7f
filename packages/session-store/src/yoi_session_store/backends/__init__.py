"""Session store backends: ``fs`` (the default) and ``memory``, plus helpers any backend shares.

:func:`check_segment_head` is the rule for a segment's first line, for third-party backends too.
"""

from yoi_session_store.backends._common import check_segment_head

__all__ = ["check_segment_head"]
