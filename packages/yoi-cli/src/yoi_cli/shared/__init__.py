"""What the ``yoi`` commands share: strict click parsing, store opening and errors, text
formatting, the duration grammar and the item report of the cleanup commands."""
