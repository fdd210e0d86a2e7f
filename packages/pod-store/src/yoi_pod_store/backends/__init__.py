"""Built-in Pod store backends (loaded only when opened)."""
