"""Safe storage cleanup: duration parsing, modes and the item report shared by the commands."""
