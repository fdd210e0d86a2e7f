"""The ``yoi`` command line."""
