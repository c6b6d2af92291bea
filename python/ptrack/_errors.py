"""The exceptions ptrack raises. Their messages are the library's, as the CLI prints them."""


class Error(Exception):
    """Base class of every error ptrack raises (bad arguments raise ``ValueError``)."""


class ProjectNotFound(Error):
    """No folder with ``ptrack.toml`` or ``prompts/`` at or above the path given."""


class PromptNotFound(Error, LookupError):
    """The prompt, its version or its label does not exist, or the version's file has errors."""


class InvalidRun(Error, ValueError):
    """A run (or rating) was rejected; the message names the field and the value."""


class RunNotFound(Error, LookupError):
    """No run has this id, or the prefix given fits several runs."""


class RenderError(Error):
    """A version could not be rendered: a variable is missing or the template is invalid."""


class RunLogWarning(UserWarning):
    """A run log line that was skipped (torn, invalid) or counted once (a repeated id): the
    problem ``ptrack performance`` prints on stderr, with its file and line."""
