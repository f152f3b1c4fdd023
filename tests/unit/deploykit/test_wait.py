"""deploykit.wait.until: the value once it holds, or TimeoutError with the caller's message."""

import itertools
import time

import pytest

from deploykit.wait import until


def test_returns_the_first_true_value() -> None:
    """The predicate is called until it returns something true, which is returned."""
    calls = itertools.count(1)
    assert until(lambda: next(calls) >= 3 and "done", 5, "never", interval=0.01) == "done"


def test_times_out_with_the_message() -> None:
    """A predicate that never holds raises TimeoutError(message) after about ``seconds``."""
    started = time.monotonic()
    with pytest.raises(TimeoutError, match=r"^the port never opened$"):
        until(lambda: False, 0.2, "the port never opened", interval=0.05)
    assert 0.2 <= time.monotonic() - started < 2


def test_ignored_errors_count_as_not_yet_and_are_chained() -> None:
    """Errors of the ignored types are retried; the last one is the TimeoutError's cause."""
    attempts = itertools.count(1)

    def flaky() -> bool:
        if next(attempts) < 3:
            raise ConnectionRefusedError("not yet")
        return True

    assert until(flaky, 5, "never", interval=0.01, ignore=(OSError,)) is True

    def refusing() -> bool:
        raise ConnectionRefusedError("refused")

    with pytest.raises(TimeoutError) as raised:
        until(refusing, 0.05, "never", interval=0.01, ignore=(OSError,))
    assert isinstance(raised.value.__cause__, ConnectionRefusedError)


def test_other_errors_propagate_at_once() -> None:
    """An error that is not ignored is not waited out."""
    with pytest.raises(KeyError):
        until(lambda: {}["missing"], 5, "never", ignore=(OSError,))
