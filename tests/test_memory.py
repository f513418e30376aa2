"""Giving freed memory back (monitor/memory.py): at most every few seconds, never failing."""

from __future__ import annotations

from monitor import memory


def test_give_back_runs_where_the_c_library_allows_and_is_harmless_elsewhere():
    memory.give_back()  # glibc: malloc_trim; elsewhere nothing; never raises


def test_every_gives_back_at_most_once_a_period(monkeypatch):
    calls = []
    monkeypatch.setattr(memory, "give_back", lambda: calls.append(now[0]))
    now = [0.0]
    every = memory.Every(5.0, clock=lambda: now[0])
    for t in (1, 4.9, 5.0, 6, 9.9, 10.1, 30):
        now[0] = t
        every()
    assert calls == [5.0, 10.1, 30]
