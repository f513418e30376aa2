"""The spool: chunks that may not be stored yet, kept in order in a file."""

from __future__ import annotations

import queue

import pytest

from monitor.errors import MonitorError
from monitor.spool import Spool


def big(i: int) -> dict:
    return {"i": i, "body": bytes([i]) * 100_000}


def test_items_leave_in_the_order_they_came_those_on_disk_pickled_the_rest_as_they_are(tmp_path):
    spool: Spool[object] = Spool(tmp_path, lambda item: isinstance(item, dict))
    answer: queue.Queue[int] = queue.Queue()  # a question waiting for its answer: not picklable
    items = [big(1), answer, big(2), big(3), "end"]
    for item in items:
        spool.put(item)
    assert len(spool) == 5 and not list(tmp_path.iterdir())  # an unnamed file: nothing left behind
    out = [spool.get() for _ in range(5)]
    assert out == items
    assert out[1] is answer and out[0] is not items[0]  # held as it is; read back from the file
    with pytest.raises(IndexError):
        spool.get()
    spool.close()


def test_the_sources_wait_past_the_limit_and_each_file_goes_once_read(tmp_path):
    spool: Spool[dict] = Spool(tmp_path, lambda item: True, limit=250_000, segment=150_000)
    spool.put(big(1))
    spool.put(big(2))
    assert not spool.full
    spool.put(big(3))  # the first file passed its segment's size: this one goes to a second
    assert spool.full  # 300,000 bytes of bodies wait: the sources wait from here
    first = spool.disk_bytes
    assert spool.get()["i"] == 1
    assert not spool.full  # 200,000 bytes wait
    assert spool.disk_bytes == first  # the first file holds the second item still
    assert spool.get()["i"] == 2
    assert spool.disk_bytes < first / 2  # the first file read: gone
    spool.put(big(4))
    assert [spool.get()["i"] for _ in range(2)] == [3, 4]
    assert (spool.waiting, spool.disk_bytes) == (0, 0)
    spool.put(big(5))
    assert spool.get() == big(5)
    spool.close()


def test_close_drops_what_waits(tmp_path):
    spool: Spool[dict] = Spool(tmp_path, lambda item: True)
    spool.put(big(1))
    spool.close()
    assert len(spool) == 0 and not spool.full and spool.disk_bytes == 0
    spool.close()  # twice is fine (a run's end closes it again)


def test_a_folder_that_cannot_hold_the_file_is_one_line(tmp_path):
    spool: Spool[dict] = Spool(tmp_path / "missing", lambda item: True)
    with pytest.raises(MonitorError, match="missing.*check the path"):
        spool.put(big(1))
