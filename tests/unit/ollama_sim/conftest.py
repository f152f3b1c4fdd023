"""Fixtures that start simulators and stop every process they started."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sim_harness
from sim_harness import RunningSim


@pytest.fixture
def start_sim(tmp_path: Path) -> Iterator[Callable[..., RunningSim]]:
    """Start simulators with extra flags (and environment); all are stopped after the test."""
    started: list[RunningSim] = []

    def start(*args: str, env: dict[str, str] | None = None) -> RunningSim:
        sim = sim_harness.start(tmp_path, args, env or {})
        started.append(sim)
        return sim

    yield start
    for sim in started:
        sim_harness.stop(sim)


@pytest.fixture(scope="module")
def fast_sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSim]:
    """One quick simulator shared by a module's tests that only look at shapes and faults."""
    sim = sim_harness.start(tmp_path_factory.mktemp("sim"), sim_harness.FAST, {})
    yield sim
    sim_harness.stop(sim)
