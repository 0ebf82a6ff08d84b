"""The one error a bad scenario produces.

Every check of a scenario file ends in a :class:`ScenarioError` that names the file, the dotted
key path, the offending value and the reason, so a user can fix the file without reading code.
Parsers deep in the tree raise it with a *relative* path; callers prefix their own part of the
path with :meth:`ScenarioError.within` as the error travels up.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from difflib import get_close_matches

_MISSING = object()


class ScenarioError(ValueError):
    """A scenario (file, override or table) that cannot be used.

    Attributes:
        reason: what is wrong, in words, e.g. ``"must be a positive integer"``.
        path: dotted key path inside the scenario, e.g. ``"bank.pools.core.servers"``.
        value: the offending value, when there is one.
        file: the scenario file (``"<scenario>"`` for one built from a dict), when known.
    """

    def __init__(
        self,
        reason: str,
        *,
        path: str | Iterable[str | int] = "",
        value: object = _MISSING,
        file: str | None = None,
    ) -> None:
        if not isinstance(path, str):
            path = ".".join(str(p) for p in path)
        self.reason = reason
        self.path = path
        self.value = value
        self.file = file
        super().__init__(self._render())

    @property
    def has_value(self) -> bool:
        """Whether the error carries an offending value."""
        return self.value is not _MISSING

    def _render(self) -> str:
        where = _printable(self.file or "")
        if self.path:
            path = _printable(self.path)
            where = f"{where}: {path}" if where else path
        what = _printable(self.reason)
        if self.value is not _MISSING:
            what = f"{_short(self.value)}: {what}"
        return f"{where}: {what}" if where else what

    def within(
        self, prefix: str | Iterable[str | int] = "", file: str | None = None
    ) -> ScenarioError:
        """Return a copy whose path is ``prefix.path`` (and whose file is ``file`` if unset)."""
        if not isinstance(prefix, str):
            prefix = ".".join(str(p) for p in prefix)
        path = ".".join(p for p in (prefix, self.path) if p)
        return ScenarioError(self.reason, path=path, value=self.value, file=self.file or file)


def _short(value: object, limit: int = 80) -> str:
    try:
        text = repr(value)
    except ValueError:  # an int beyond Python's int-string conversion limit
        text = f"<an integer of more than {sys.get_int_max_str_digits():,} digits>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _printable(text: str) -> str:
    """``text`` with control characters escaped (``\\n``), so that an error stays one line."""
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """A ``" (did you mean 'x'?)"`` suffix for the closest of ``choices``, or ``""``."""
    close = get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
