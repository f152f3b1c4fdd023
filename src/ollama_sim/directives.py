"""Fault directives carried inside the prompt, such as ``[[sim:stall=2]]``.

Putting the fault in the prompt (or the last user message) lets any test drive it through the whole
chain (browser, web app, gateway) without a side channel: the text travels as the user typed it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace

# Longest stall, load or length a directive may ask for: enough for any test, and a typo cannot
# pin a connection for hours.
MAX_SECONDS = 600.0
MAX_TOKENS = 100_000

_DIRECTIVE = re.compile(r"\[\[sim:([a-z_]+)(?:=([^\]]*))?\]\][ \t]*")


class DirectiveError(ValueError):
    """A directive is unknown or has a bad value; the request is refused with 400."""


@dataclass(frozen=True)
class Directives:
    """What one request asked the simulator to do differently."""

    error_after: int | None = None
    queue_full: bool = False
    stall: float = 0.0
    load: float = 0.0
    tokens: int | None = None
    tps: float | None = None
    echo: bool = False


def _count(name: str, value: str | None, maximum: int) -> int:
    if value is None or not value.isdigit() or int(value) > maximum:
        raise DirectiveError(f"[[sim:{name}=N]] needs an integer N from 0 to {maximum}")
    return int(value)


def _seconds(name: str, value: str | None) -> float:
    try:
        number = float(value or "")
    except ValueError:
        number = math.nan
    if not 0 <= number <= MAX_SECONDS:
        raise DirectiveError(f"[[sim:{name}=S]] needs a number from 0 to {MAX_SECONDS:g}")
    return number


def _flag(name: str, value: str | None) -> bool:
    if value is not None:
        raise DirectiveError(f"[[sim:{name}]] takes no value")
    return True


def _tps(name: str, value: str | None) -> float:
    try:
        number = float(value or "")
    except ValueError:
        number = math.nan
    if not 0 < number <= 1_000_000:
        raise DirectiveError(f"[[sim:{name}=R]] needs a speed above 0 and at most 1000000")
    return number


_PARSERS = {
    "error_after": lambda n, v: _count(n, v, MAX_TOKENS),
    "queue_full": _flag,
    "stall": _seconds,
    "load": _seconds,
    "tokens": lambda n, v: _count(n, v, MAX_TOKENS),
    "tps": _tps,
    "echo": _flag,
}


def parse_directives(text: str) -> tuple[Directives, str]:
    """Return the directives found in ``text`` and the text with them removed.

    The cleaned text is what gets echoed and counted as prompt tokens, so a test's control
    markup never leaks into an answer.
    """
    directives = Directives()
    for match in _DIRECTIVE.finditer(text):
        name, value = match.group(1), match.group(2)
        parser = _PARSERS.get(name)
        if parser is None:
            known = ", ".join(sorted(_PARSERS))
            raise DirectiveError(f"unknown simulator directive {name!r} (known: {known})")
        directives = replace(directives, **{name: parser(name, value)})
    return directives, strip_directives(text)


def strip_directives(text: str) -> str:
    """Remove anything that looks like a directive, valid or not, from text that is only counted."""
    return _DIRECTIVE.sub("", text).strip()
