"""collector.building(): the cyclic collector is off while a program is built, and what
was built goes to the oldest generation (Note [Collector while building])."""
import gc
import threading

import pytest
import torch

import torchkiln
from torchkiln import collector


@pytest.fixture(autouse=True)
def _fresh_state(monkeypatch):
    # Each test starts as a process would: nothing moved yet, the collector on.
    monkeypatch.setattr(collector, "_moved", 0)
    monkeypatch.setattr(collector, "_full_collections", -1)
    assert gc.isenabled()
    yield
    assert gc.isenabled()
    assert collector._active == 0


class Node:
    def __init__(self):
        self.me = self  # a cycle: only the cyclic collector frees it


def test_collector_is_off_inside_and_on_after():
    with collector.building():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_built_objects_skip_the_young_generations():
    gc.collect()
    with collector.building():
        kept = [Node() for _ in range(5000)]
        assert gc.get_count()[0] >= 5000  # no collection ran
    assert gc.get_count()[0] < 100  # moved on, not waiting in generation 0
    assert all(gc.is_tracked(n) for n in kept[:10])
    assert collector._moved >= 5000


def test_garbage_made_while_building_is_still_collected():
    import weakref

    with collector.building():
        ref = weakref.ref(Node())
    assert ref() is not None  # in a cycle, waits for a collection
    gc.collect()
    assert ref() is None


def test_nested_blocks_leave_it_to_the_outermost():
    with collector.building():
        with collector.building():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the inner one did not turn it back on
    assert gc.isenabled()


def test_restored_when_the_block_raises():
    with pytest.raises(ValueError):
        with collector.building():
            raise ValueError("boom")
    assert gc.isenabled()


def test_a_disabled_collector_stays_disabled():
    gc.disable()
    try:
        with collector.building():
            assert not gc.isenabled()
        assert not gc.isenabled()
        assert collector._moved == 0
    finally:
        gc.enable()


def test_objects_the_program_froze_stay_frozen():
    sentinel = Node()
    gc.freeze()
    try:
        with collector.building():
            assert gc.isenabled()  # left alone: unfreezing would undo the program's freeze
            [Node() for _ in range(100)]
        # Still in the permanent generation, which gc.get_objects() does not list. (The
        # freeze count itself may drop: a frozen object that dies leaves it.)
        assert gc.get_freeze_count() > 0
        assert not any(o is sentinel for o in gc.get_objects())
    finally:
        gc.unfreeze()


def test_stops_moving_objects_past_the_limit_until_a_full_collection(monkeypatch):
    monkeypatch.setattr(collector, "_MOVE_LIMIT", 1000)
    with collector.building():
        keep = [Node() for _ in range(2000)]
    assert collector._moved >= 1000
    with collector.building():
        assert gc.isenabled()  # over the limit: the collector works as usual
    gc.collect()  # a full collection resets the count
    with collector.building():
        assert not gc.isenabled()
    del keep


def test_threads_building_at_once_turn_it_on_when_the_last_ends():
    inside = threading.Barrier(2)
    release = threading.Event()
    states = []

    def other():
        with collector.building():
            inside.wait()
            release.wait()
            states.append(gc.isenabled())

    t = threading.Thread(target=other)
    t.start()
    with collector.building():
        inside.wait()
    states.append(gc.isenabled())  # the other thread is still building
    release.set()
    t.join()
    assert states == [False, False]
    assert gc.isenabled()


class Small(torch.nn.Module):
    def forward(self, x):
        for _ in range(3):
            x = x * 2 if x.sum() > 0 else x - 1
        return x


def test_script_and_first_call_leave_the_collector_on():
    gc.collect()
    m = torchkiln.script(Small())
    assert gc.isenabled()
    x = torch.randn(3)
    torch.testing.assert_close(m(x), Small()(x))
    assert gc.isenabled()
    assert collector._moved > 0


def test_a_refused_program_leaves_the_collector_on():
    def bad(x):
        return x.numpy()

    with pytest.raises(torchkiln.CompileError):
        torchkiln.script(bad)
    assert gc.isenabled()
