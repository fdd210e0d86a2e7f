"""Built-in session store backends: ``fs`` (the default) and ``memory``."""
