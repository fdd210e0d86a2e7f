"""The yoi data dir: ``YOI_DATA_DIR``, else ``$YOI_HOME``, else ``~/.yoi`` (empty = unset)."""

from __future__ import annotations

import os
from pathlib import Path


def default_data_dir() -> Path:
    for name in ("YOI_DATA_DIR", "YOI_HOME"):
        value = os.environ.get(name)
        if value:
            return Path(value).expanduser()
    return Path.home() / ".yoi"
