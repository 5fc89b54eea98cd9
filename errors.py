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
    for value in _secrets():
        if value in text:
            text = text.replace(value, "***")
    return text


_SUFFIXES_B = tuple(s.encode() for s in SECRET_SUFFIXES)


def _secrets() -> list[str]:
    """The secret values of the environment, read now (a test or a user may set one at any time).
    On POSIX from os.environ's bytes mapping: `os.environ.items()` decodes every variable, and
    the journal scrubs every line it writes (a third of a millisecond per line in a search)."""
    import os

    data = getattr(os.environ, "_data", None)
    if not isinstance(data, dict) or not all(isinstance(k, bytes) for k in list(data)[:1]):
        return [v for k, v in os.environ.items() if k.upper().endswith(SECRET_SUFFIXES) and len(v) >= 8]
    return [os.fsdecode(v) for k, v in data.items() if k.upper().endswith(_SUFFIXES_B) and len(v) >= 8]
