"""`tests.helpers.wait`: a wait returns as soon as its condition holds, and past its deadline
fails saying what it waited for."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.helpers.wait import until, until_async


def test_until_returns_the_first_truthy_value():
    calls = iter([0, None, "", "prêt"])
    assert until(lambda: next(calls), timeout_s=5, interval_s=0.001) == "prêt"


def test_until_fails_at_its_deadline_naming_what_it_waited_for():
    started = time.monotonic()
    with pytest.raises(AssertionError, match="le serveur de test"):
        until(lambda: False, timeout_s=0.2, what="le serveur de test", interval_s=0.01)
    assert 0.2 <= time.monotonic() - started < 5


def test_until_lets_the_predicates_error_through():
    def dead():
        raise AssertionError("le processus s'est arrêté")

    with pytest.raises(AssertionError, match="le processus s'est arrêté"):
        until(dead, timeout_s=5)


def test_until_async_keeps_the_loop_running():
    async def scenario():
        done = []

        async def worker():
            await asyncio.sleep(0.05)
            done.append(1)

        task = asyncio.create_task(worker())
        await until_async(lambda: done, timeout_s=5, what="le travail en tâche de fond")
        await task
        with pytest.raises(AssertionError, match="jamais"):
            await until_async(lambda: False, timeout_s=0.1, what="jamais", interval_s=0.01)

    asyncio.run(scenario())
