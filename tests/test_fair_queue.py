"""The queue between the sources' threads and the thread that stores their chunks."""

import queue
import threading

import pytest

from monitor.fair_queue import FairQueue
from tests.conftest import wait_for


def test_a_place_that_frees_goes_to_the_producer_with_the_fewest_items_waiting():
    chunks: FairQueue[str] = FairQueue(3)
    for item in ("a1", "a2", "b1"):
        chunks.put(item[0], item, timeout=0)
    with pytest.raises(queue.Full):  # the bound holds for everyone
        chunks.put("c", "c1", timeout=0.05)
    order = []

    def put(key: str, item: str) -> None:
        chunks.put(key, item, timeout=10)
        order.append(item)

    threads = [threading.Thread(target=put, args=args) for args in (("a", "a3"), ("b", "b2"), ("c", "c1"))]
    for n, thread in enumerate(threads, 1):
        thread.start()
        wait_for(lambda n=n: len(chunks.blocked) == n, timeout=5)
    assert chunks.get(timeout=1) == "a1"
    wait_for(lambda: order == ["c1"], timeout=5)  # none waiting: first, though it came last
    assert chunks.get(timeout=1) == "b1"  # in turns
    wait_for(lambda: order == ["c1", "b2"], timeout=5)  # none waiting now, a one
    assert chunks.get(timeout=1) == "a2"
    for thread in threads:
        thread.join(5)
    assert order == ["c1", "b2", "a3"]
    assert [chunks.get(timeout=1) for _ in range(3)] == ["c1", "b2", "a3"]


def test_producers_are_served_in_turns_each_in_its_own_order():
    chunks: FairQueue[str] = FairQueue(10)
    for item in ("a1", "a2", "a3"):
        chunks.put("openalex", item, timeout=0)
    chunks.put("scopus", "s1", timeout=0)
    chunks.put("crossref", "c1", timeout=0)
    chunks.put("scopus", "s2", timeout=0)
    got = [chunks.get(timeout=0) for _ in range(6)]
    assert got == ["a1", "s1", "c1", "a2", "s2", "a3"]
    with pytest.raises(queue.Empty):
        chunks.get(timeout=0.05)


def test_a_waiting_producer_goes_on_once_an_item_is_taken():
    chunks: FairQueue[int] = FairQueue(1)
    chunks.put("pubmed", 1, timeout=0)
    put = threading.Event()

    def second() -> None:
        chunks.put("pubmed", 2, timeout=10)
        put.set()

    thread = threading.Thread(target=second)
    thread.start()
    assert not put.wait(0.1)  # held: its first is still waiting
    assert chunks.get(timeout=1) == 1
    assert put.wait(5)
    thread.join()
    assert chunks.get(timeout=1) == 2


def test_many_producers_lose_nothing_and_keep_their_order():
    chunks: FairQueue[tuple[str, int]] = FairQueue(3)
    sources = [f"source{i}" for i in range(8)]

    def produce(name: str) -> None:
        for n in range(200):
            chunks.put(name, (name, n), timeout=10)

    threads = [threading.Thread(target=produce, args=(name,)) for name in sources]
    for thread in threads:
        thread.start()
    got = []
    for _ in range(200 * len(sources)):
        assert chunks.size <= 3  # the memory held stays bounded
        got.append(chunks.get(timeout=10))
    for thread in threads:
        thread.join()
    for name in sources:
        assert [n for who, n in got if who == name] == list(range(200))
