"""The one exception type for user mistakes.

The CLI catches it once and prints it as a single line with exit code 2;
every other exception is a bug and may show a traceback.
"""


class UserError(Exception):
    """Bad input from the user: an unknown name, a malformed flag, a missing key."""


class LLMError(Exception):
    """A provider failed (network, auth, server error) after its own retries.  The run is
    checkpointed, so the CLI prints one line and says how to resume."""


SECRET_SUFFIXES = ("_API_KEY", "_TOKEN", "_SECRET", "_PASSWORD")


def scrub(text: str) -> str:
    """`text` with the value of every secret-looking environment variable (…_API_KEY, …_TOKEN,
    …_SECRET, …_PASSWORD; 8 characters or more) replaced by `***`: what a provider echoes back
    in an error, or a request dump, must not reach a file or a terminal."""
    import os

    for name, value in os.environ.items():
        if name.upper().endswith(SECRET_SUFFIXES) and len(value) >= 8 and value in text:
            text = text.replace(value, "***")
    return text
