"""Waiting for a condition with a deadline, instead of a hand-written loop in each test."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def until(
    predicate: Callable[[], T],
    seconds: float,
    message: str,
    interval: float = 0.25,
    ignore: tuple[type[BaseException], ...] = (),
) -> T:
    """Call ``predicate`` until it returns something true, and return that.

    Raises TimeoutError(message) once ``seconds`` have passed. Exceptions of the ``ignore``
    types count as "not yet" (a port that still refuses); after the deadline the last one is
    chained to the TimeoutError, so the failure says what was seen.
    """
    deadline = time.monotonic() + seconds
    while True:
        last: BaseException | None = None
        try:
            value = predicate()
        except ignore as error:
            last = error
        else:
            if value:
                return value
        if time.monotonic() > deadline:
            raise TimeoutError(message) from last
        time.sleep(interval)
