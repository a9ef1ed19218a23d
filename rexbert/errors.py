"""The one exception type a user sees: a mistake in their input, named with its fix."""


class UserError(Exception):
    """A problem in what the user gave us (a file, a flag, a config key), not a bug.

    The CLI prints it as a single line and exits with status 2, without a traceback unless
    `--debug` is given. The message should name the file or flag and say how to fix it.
    """
