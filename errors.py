"""The one exception type for user mistakes.

The CLI catches it once and prints it as a single line with exit code 2;
every other exception is a bug and may show a traceback.
"""


class UserError(Exception):
    """Bad input from the user: an unknown name, a malformed flag, a missing key."""


class LLMError(Exception):
    """A provider failed (network, auth, server error) after its own retries.  The run is
    checkpointed, so the CLI prints one line and says how to resume."""
