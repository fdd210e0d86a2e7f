"""What every yoi package shares, and nothing more.

Importing this package loads nothing; use its modules:

- :mod:`yoi_base.registry`: the one plugin registry behind every extension point,
- :mod:`yoi_base.paths`: where yoi keeps its data and runtime state.
"""

from __future__ import annotations
