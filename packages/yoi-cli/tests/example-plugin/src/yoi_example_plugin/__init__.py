"""A test-only third-party yoi plugin."""
