"""``python -m yoi_cli``: the ``yoi`` command."""

from yoi_cli.main import main

main()
