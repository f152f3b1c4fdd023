"""Fault directives inside prompts: parsing, validation and stripping."""

from __future__ import annotations

import pytest

from ollama_sim.directives import DirectiveError, Directives, parse_directives


def test_text_without_directives_is_untouched() -> None:
    assert parse_directives("  plain question? ") == (Directives(), "plain question?")


def test_every_directive_parses_and_is_stripped() -> None:
    text = (
        "Why? [[sim:error_after=3]] [[sim:queue_full]] [[sim:stall=1.5]] [[sim:load=2]] "
        "[[sim:tokens=7]] [[sim:tps=40]] [[sim:echo]] end"
    )
    directives, cleaned = parse_directives(text)
    assert directives == Directives(
        error_after=3, queue_full=True, stall=1.5, load=2.0, tokens=7, tps=40.0, echo=True
    )
    assert cleaned == "Why? end"


@pytest.mark.parametrize(
    "text",
    [
        "[[sim:explode]]",
        "[[sim:tokens=-1]]",
        "[[sim:tokens=many]]",
        "[[sim:error_after=]]",
        "[[sim:stall=1e9]]",
        "[[sim:stall=nan]]",
        "[[sim:load=-2]]",
        "[[sim:tps=0]]",
        "[[sim:echo=yes]]",
        "[[sim:queue_full=1]]",
    ],
)
def test_bad_directive_is_refused(text: str) -> None:
    with pytest.raises(DirectiveError):
        parse_directives(text)
