"""The one exception type the lab's command line reports as a message instead of a traceback."""


class LabError(Exception):
    """A lab problem the user can act on; services raise subclasses of it."""
