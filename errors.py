"""The one exception type for mistakes a user can fix (a flag, a path, a file).

main.py prints its message as a single line on stderr and exits with status 2, without a traceback.
"""


class UserError(Exception):
    """A problem with the user's input, explained in one line."""


class RunStopped(Exception):
    """A run that stopped on purpose with a reason (such as a non-finite loss); exit status 1."""
