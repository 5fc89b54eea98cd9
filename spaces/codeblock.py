"""Reading code out of an LLM's answer, shared by the code representations of every space.

Models wrap code in a ```python fence, put prose around it, or run into `max_tokens` and
lose the closing fence and the last lines.  `candidates(text)` gives the readings to try,
most likely first: each complete fenced block; the text after an opening fence that was
never closed; the whole text.  `parse(text)` returns the first reading that Python parses,
and for an answer cut short (an unclosed fence) the longest prefix that does, so an answer
cut mid-line is read as far as it was written.
"""

from __future__ import annotations

import ast
import re
import threading

_CLOSED = re.compile(r"```[ \t]*(?:python|py)?[ \t]*\n(.*?)```", re.DOTALL)
_OPENED = re.compile(r"```[ \t]*(?:python|py)?[ \t]*\n(.*)\Z", re.DOTALL)
# CPython 3.11's ast keeps a recursion counter in global state: concurrent ast.parse from two
# threads raised "AST constructor recursion depth mismatch" here.  Every parse takes this lock.
AST_LOCK = threading.RLock()


def candidates(text: str) -> list[str]:
    closed = _CLOSED.findall(text)
    out = list(closed)
    if not closed:
        opened = _OPENED.search(text)
        if opened:
            out.append(opened.group(1))
    out.append(text)
    return [c for c in out if c.strip()]


def extract(text: str) -> str:
    """The most likely code in `text` (the first reading), with a final newline."""
    readings = candidates(text)
    return (readings[0] if readings else text).strip() + "\n"


def truncated(text: str) -> bool:
    """An opening fence that was never closed: the answer ran into max_tokens."""
    return not _CLOSED.search(text) and bool(_OPENED.search(text))


def parse(text: str, max_cut: int = 40) -> tuple[ast.Module, str]:
    """(tree, code) of the first reading that parses; for a truncated answer, else the longest
    prefix that parses (at most `max_cut` trailing lines dropped).  Raises SyntaxError from the
    first reading when nothing parses."""
    readings = candidates(text) or [text]
    first_error: SyntaxError | None = None
    with AST_LOCK:
        for code in readings:
            try:
                return ast.parse(code), code
            except SyntaxError as err:
                first_error = first_error or err
        lines = readings[0].splitlines() if truncated(text) else []
        for cut in range(1, min(max_cut, len(lines) - 1) + 1):
            code = "\n".join(lines[:-cut]) + "\n"
            try:
                return ast.parse(code), code
            except SyntaxError:
                continue
    raise first_error
