# Copyright 2026 The accel_ai_ros Authors
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""Tests of the latest-wins pipeline, its counters and engine hot swaps (real threads)."""

import threading
import time
from typing import Any
from typing import Callable
from typing import Dict
from typing import List
from typing import Optional
from typing import Tuple

import numpy as np
import pytest

from accel_ai_ros.backends.base import Runner
from accel_ai_ros.backends.base import TensorInfo
from accel_ai_ros.errors import EngineError
from accel_ai_ros.errors import ImageDecodeError
from accel_ai_ros.pipeline import InferencePipeline
from accel_ai_ros.pipeline import LatestFrameSlot
from accel_ai_ros.pipeline import PendingFrame
from accel_ai_ros.stats import FrameCounters
from accel_ai_ros.stats import LatencyTracker
from accel_ai_ros.stats import OUTCOME_NAMES

TIMEOUT = 20.0


class EventLog:
    """An ordered, thread-safe record of what runners did."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.entries: List[Tuple[Any, ...]] = []

    def add(self, *entry: Any) -> None:
        """Append one entry."""
        with self._lock:
            self.entries.append(entry)

    def index(self, *entry: Any) -> int:
        """Return the position of ``entry``."""
        with self._lock:
            return self.entries.index(entry)

    def where(self, kind: str, name: str) -> List[int]:
        """Return the positions of every ``kind`` entry of runner ``name``."""
        with self._lock:
            return [i for i, e in enumerate(self.entries) if e[0] == kind and e[1] == name]


class RecordingRunner(Runner):
    """A real runner: adds one to its input, can hold an inference until a gate opens."""

    backend_name = 'test'

    def __init__(self, name: str, log: EventLog, gate: Optional[threading.Event] = None) -> None:
        super().__init__(name)
        self.log = log
        self.gate = gate
        self.entered = threading.Event()

    def inputs(self) -> List[TensorInfo]:
        """Describe the one input."""
        return [TensorInfo('x', (1,), np.dtype(np.float32))]

    def outputs(self) -> List[TensorInfo]:
        """Describe the one output."""
        return [TensorInfo('y', (1,), np.dtype(np.float32))]

    def _activate(self) -> None:
        self.log.add('activate', self.name)

    def _deactivate(self) -> None:
        self.log.add('deactivate', self.name)

    def _infer(self, feed: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
        value = int(feed['x'][0])
        self.log.add('start', self.name, value)
        self.entered.set()
        if self.gate is not None:
            assert self.gate.wait(TIMEOUT), 'test gate never opened'
        self.log.add('infer', self.name, value)
        return {'y': feed['x'] + 1}


class Harness:
    """A pipeline wired to a handler that infers and records which runner served each frame."""

    def __init__(self, max_frame_age_ms: float = 0.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.log = EventLog()
        self.counters = FrameCounters()
        self.latency = LatencyTracker()
        self.handled: List[Tuple[Any, str]] = []
        self.errors: List[Tuple[Any, BaseException]] = []
        self.swaps: List[Tuple[Optional[Runner], Optional[BaseException], str]] = []
        self.swapped = threading.Event()
        self.swap_threads: List[str] = []
        self.pipeline = InferencePipeline(
            self.handle, self.counters, max_frame_age_ms=max_frame_age_ms, clock=clock,
            latency=self.latency, on_swap=self.on_swap, on_error=self.on_error,
            name='test-pipeline')

    def runner(self, name: str, gate: Optional[threading.Event] = None) -> RecordingRunner:
        """Return a new, inactive runner sharing the harness log."""
        return RecordingRunner(name, self.log, gate)

    def handle(self, frame: PendingFrame, runner: Runner) -> None:
        """Decode (reject non-ints), infer and record."""
        message = frame.message
        if message == 'bad':
            raise ImageDecodeError('bad image')
        if message == 'boom':
            raise ValueError('postprocessing exploded')
        frame.timings['decode'] = 1.0 + message     # the handler's stages join the record
        out = runner.infer({'x': np.array([message], dtype=np.float32)})
        assert int(out['y'][0]) == message + 1
        self.handled.append((message, runner.name))

    def on_swap(self, runner: Optional[Runner], error: Optional[BaseException],
                tag: str) -> None:
        """Record a swap report."""
        self.swaps.append((runner, error, tag))
        self.swap_threads.append(threading.current_thread().name)
        self.swapped.set()

    def on_error(self, frame: PendingFrame, error: BaseException) -> None:
        """Record a frame error, then misbehave: the worker must survive it."""
        self.errors.append((frame.message, error))
        raise RuntimeError('callbacks may raise too')

    def assert_accounted(self) -> None:
        """Check that every received frame has exactly one outcome."""
        snap = self.counters.snapshot()
        assert snap['received'] == sum(snap[name] for name in OUTCOME_NAMES), snap
        assert self.pipeline.outstanding == 0


@pytest.fixture
def harness() -> Any:
    """Yield a harness and stop its pipeline afterwards."""
    h = Harness()
    yield h
    h.pipeline.stop()


def wait_until(predicate: Callable[[], bool], timeout: float = TIMEOUT) -> None:
    """Poll ``predicate`` until it holds; fail the test on timeout."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, 'condition not reached in time'
        time.sleep(0.005)


def loaded(runner: Runner, delay: float = 0.0,
           gate: Optional[threading.Event] = None) -> Callable[[], Runner]:
    """Return a loader that waits (warm-up), activates ``runner`` and returns it."""
    def load() -> Runner:
        if gate is not None:
            assert gate.wait(TIMEOUT)
        if delay:
            time.sleep(delay)
        runner.activate()
        return runner
    return load


# -- the slot -----------------------------------------------------------------------------
def test_slot_latest_wins_and_close() -> None:
    slot: LatestFrameSlot[int] = LatestFrameSlot()
    assert slot.take(timeout=0.0) is None
    assert slot.put(1) is None
    assert slot.put(2) == 1
    assert len(slot) == 1
    assert slot.take(timeout=0.0) == 2
    got: List[Optional[int]] = []
    taker = threading.Thread(target=lambda: got.append(slot.take(timeout=TIMEOUT)))
    taker.start()
    slot.close()
    taker.join(TIMEOUT)
    assert not taker.is_alive()
    assert got == [None]
    assert slot.put(3) == 3          # refused after close, handed back to be counted


def test_slot_wake_is_never_lost() -> None:
    slot: LatestFrameSlot[int] = LatestFrameSlot()
    slot.wake()                       # before anyone waits
    assert slot.take(timeout=TIMEOUT) is None
    slot.put(5)
    slot.wake()
    assert slot.take(timeout=TIMEOUT) == 5


# -- frame accounting ---------------------------------------------------------------------
def test_burst_keeps_one_waiting_and_counts_overtaken(harness: Harness) -> None:
    gate = threading.Event()
    runner = harness.runner('A', gate)
    runner.activate()
    harness.pipeline.start(runner)
    harness.pipeline.submit(0)
    assert runner.entered.wait(TIMEOUT)
    for i in range(1, 51):
        harness.pipeline.submit(i)
    assert harness.pipeline.outstanding == 2          # one in flight, one waiting
    assert harness.counters.get('dropped_overtaken') == 49
    gate.set()
    assert harness.pipeline.wait_idle(TIMEOUT)
    assert harness.handled == [(0, 'A'), (50, 'A')]
    assert harness.counters.get('processed') == 2
    assert harness.counters.get('received') == 51
    harness.assert_accounted()


def test_concurrent_submitters_every_frame_accounted(harness: Harness) -> None:
    runner = harness.runner('A')
    runner.activate()
    harness.pipeline.start(runner)
    barrier = threading.Barrier(4)

    def produce(offset: int) -> None:
        barrier.wait()
        for i in range(300):
            kind = i % 10
            harness.pipeline.submit('bad' if kind == 3 else 'boom' if kind == 7 else offset + i)

    threads = [threading.Thread(target=produce, args=(k * 1000,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT)
    assert harness.pipeline.wait_idle(TIMEOUT)
    snap = harness.counters.snapshot()
    assert snap['received'] == 1200
    assert snap['processed'] >= 1
    assert snap['processed'] == len(harness.handled)
    assert snap['rejected'] + snap['failed'] == len(harness.errors)
    assert harness.counters.unaccounted() == 0
    harness.assert_accounted()


def test_stale_frames_dropped_with_injected_clock() -> None:
    clock = [1000.0]
    h = Harness(max_frame_age_ms=100.0, clock=lambda: clock[0])
    gate = threading.Event()
    runner = h.runner('A', gate)
    runner.activate()
    try:
        h.pipeline.submit(1)                  # waits for the worker, which is not started
        clock[0] += 0.05
        h.pipeline.start(runner)
        assert runner.entered.wait(TIMEOUT)   # frame 1, 50 ms old: young enough
        h.pipeline.submit(2)
        clock[0] += 1.0                       # frame 2 now waits for 1 s
        gate.set()
        assert h.pipeline.wait_idle(TIMEOUT)
        assert h.handled == [(1, 'A')]
        assert h.counters.get('dropped_stale') == 1
        assert h.latency.samples('queue') == [pytest.approx(50.0)]
        h.pipeline.set_max_frame_age_ms(0.0)  # no limit from the next frame on
        gate.clear()
        runner.entered.clear()
        h.pipeline.submit(3)
        assert runner.entered.wait(TIMEOUT)
        h.pipeline.submit(4)
        clock[0] += 10.0
        gate.set()
        assert h.pipeline.wait_idle(TIMEOUT)
        assert h.handled == [(1, 'A'), (3, 'A'), (4, 'A')]
        assert h.counters.get('dropped_stale') == 1
        assert h.latency.samples('queue')[-1] == pytest.approx(10000.0)
        h.assert_accounted()
        with pytest.raises(ValueError):
            h.pipeline.set_max_frame_age_ms(-1.0)
    finally:
        gate.set()
        h.pipeline.stop()


def test_one_timing_record_per_processed_frame(harness: Harness) -> None:
    # Each processed frame's record (queue, total and the handler's stages) reaches the
    # tracker once; rejected and failed frames record nothing.
    runner = harness.runner('A')
    runner.activate()
    harness.pipeline.start(runner)
    for message in (1, 'bad', 2, 'boom', 3):
        harness.pipeline.submit(message)
        assert harness.pipeline.wait_idle(TIMEOUT)
    latency = harness.latency
    assert [latency.count(stage) for stage in ('queue', 'decode', 'total')] == [3, 3, 3]
    assert latency.samples('decode') == [2.0, 3.0, 4.0]
    assert all(t >= q for t, q in zip(latency.samples('total'), latency.samples('queue')))
    harness.assert_accounted()


def test_decode_errors_rejected_other_errors_failed_worker_survives(harness: Harness) -> None:
    runner = harness.runner('A')
    runner.activate()
    harness.pipeline.start(runner)
    for message in ['bad', 'boom', 7]:
        harness.pipeline.submit(message)
        assert harness.pipeline.wait_idle(TIMEOUT)
    assert harness.counters.get('rejected') == 1
    assert harness.counters.get('failed') == 1
    assert harness.counters.get('processed') == 1
    assert [m for m, _ in harness.errors] == ['bad', 'boom']
    assert isinstance(harness.errors[0][1], ImageDecodeError)
    assert isinstance(harness.errors[1][1], ValueError)
    assert harness.handled == [(7, 'A')]
    harness.assert_accounted()


def test_no_engine_then_first_load(harness: Harness) -> None:
    harness.pipeline.start(None)
    harness.pipeline.submit(1)
    assert harness.pipeline.wait_idle(TIMEOUT)
    assert harness.counters.get('dropped_no_engine') == 1
    runner = harness.runner('A')
    harness.pipeline.request_swap(loaded(runner), tag='first')
    assert harness.swapped.wait(TIMEOUT)             # installed with no frame arriving
    assert harness.pipeline.wait_idle(TIMEOUT)
    assert harness.swaps == [(runner, None, 'first')]
    assert harness.swap_threads == ['test-pipeline-worker']
    assert harness.pipeline.runner is runner
    harness.pipeline.submit(2)
    assert harness.pipeline.wait_idle(TIMEOUT)
    assert harness.handled == [(2, 'A')]
    harness.assert_accounted()


# -- engine swaps -------------------------------------------------------------------------
def test_swap_during_30fps_stream_loses_no_frame(harness: Harness) -> None:
    old = harness.runner('A')
    old.activate()
    new = harness.runner('B')
    warm_up_done = threading.Event()                   # the load lasts from frame 15 to 40
    harness.pipeline.start(old)
    total, swap_at, loaded_at = 60, 15, 40
    for i in range(total):
        # The worker is far faster than 30 fps; waiting until it has taken the previous
        # frame only guards against a scheduler hiccup on a loaded machine, so that a
        # missing frame can only be the swap's fault. A worker that did the loading itself
        # would hang here until warm_up_done, and fail.
        wait_until(lambda: harness.pipeline.waiting == 0)
        harness.pipeline.submit(i)
        if i == swap_at:
            harness.pipeline.request_swap(loaded(new, gate=warm_up_done), tag='B')
        if i == loaded_at:
            warm_up_done.set()
        time.sleep(1.0 / 30.0)
    assert harness.pipeline.wait_idle(TIMEOUT)
    assert harness.counters.get('processed') == total, (harness.counters.snapshot(),
                                                        harness.errors, harness.handled)
    assert harness.counters.get('dropped_overtaken') == 0
    assert [m for m, _ in harness.handled] == list(range(total))
    names = [n for _, n in harness.handled]
    first_new = names.index('B')
    assert loaded_at <= first_new < total              # swapped during the stream
    assert names == ['A'] * first_new + ['B'] * (total - first_new)
    assert harness.swaps == [(new, None, 'B')]
    assert not old.is_active and new.is_active
    assert harness.log.index('deactivate', 'A') > max(harness.log.where('infer', 'A'))
    assert harness.pipeline.runner is new
    harness.assert_accounted()


def test_old_runner_deactivated_only_after_frame_in_flight(harness: Harness) -> None:
    gate = threading.Event()
    old = harness.runner('A', gate)
    old.activate()
    new = harness.runner('B')
    harness.pipeline.start(old)
    harness.pipeline.submit(0)
    assert old.entered.wait(TIMEOUT)
    harness.pipeline.request_swap(loaded(new), tag='B')
    wait_until(lambda: harness.pipeline.loading == 0)
    assert new.is_active                               # loaded and warm, not installed
    assert harness.pipeline.swap_pending
    assert harness.pipeline.runner is old
    assert old.is_active
    assert harness.swaps == []
    harness.pipeline.submit(1)                         # waits behind the frame in flight
    gate.set()
    assert harness.pipeline.wait_idle(TIMEOUT)
    assert harness.handled == [(0, 'A'), (1, 'B')]
    assert harness.log.index('deactivate', 'A') > harness.log.index('infer', 'A', 0)
    assert harness.log.index('deactivate', 'A') < harness.log.index('start', 'B', 1)
    assert harness.swaps == [(new, None, 'B')]
    assert not harness.pipeline.swap_pending
    harness.assert_accounted()


def test_failed_load_keeps_old_runner_and_reports(harness: Harness) -> None:
    old = harness.runner('A')
    old.activate()
    harness.pipeline.start(old)

    def broken() -> Runner:
        raise EngineError('engine file is truncated; rebuild it')

    harness.pipeline.request_swap(broken, tag='broken')
    assert harness.swapped.wait(TIMEOUT)
    assert harness.pipeline.wait_idle(TIMEOUT)
    assert len(harness.swaps) == 1
    runner, error, tag = harness.swaps[0]
    assert runner is None and tag == 'broken'
    assert isinstance(error, EngineError)
    assert harness.swap_threads == ['test-pipeline-worker']   # reported between frames
    assert harness.pipeline.runner is old and old.is_active
    harness.pipeline.submit(3)
    assert harness.pipeline.wait_idle(TIMEOUT)
    assert harness.handled == [(3, 'A')]


def test_runner_failing_to_activate_is_a_failed_load(harness: Harness) -> None:
    class Unactivatable(RecordingRunner):
        def _activate(self) -> None:
            raise EngineError('no memory for the engine')

    old = harness.runner('A')
    old.activate()
    harness.pipeline.start(old)
    harness.pipeline.request_swap(lambda: Unactivatable('X', harness.log), tag='x')
    assert harness.pipeline.wait_idle(TIMEOUT)
    assert [(r, type(e), t) for r, e, t in harness.swaps] == [(None, EngineError, 'x')]
    assert harness.pipeline.runner is old


def test_newest_of_two_concurrent_requests_wins(harness: Harness) -> None:
    old = harness.runner('A')
    old.activate()
    harness.pipeline.start(old)
    slow_gate = threading.Event()
    superseded = harness.runner('B')
    newest = harness.runner('C')
    harness.pipeline.request_swap(loaded(superseded, gate=slow_gate), tag='B')
    harness.pipeline.request_swap(loaded(newest), tag='C')
    assert harness.swapped.wait(TIMEOUT)
    assert harness.pipeline.runner is newest
    slow_gate.set()                                    # the older request finishes last
    assert harness.pipeline.wait_idle(TIMEOUT)
    assert harness.swaps == [(newest, None, 'C')]
    assert harness.pipeline.runner is newest
    assert harness.log.where('activate', 'B') and not superseded.is_active
    assert not old.is_active
    harness.pipeline.submit(9)
    assert harness.pipeline.wait_idle(TIMEOUT)
    assert harness.handled == [(9, 'C')]


def test_two_loads_finished_while_frame_in_flight_install_newest_only(
        harness: Harness) -> None:
    gate = threading.Event()
    old = harness.runner('A', gate)
    old.activate()
    harness.pipeline.start(old)
    harness.pipeline.submit(0)
    assert old.entered.wait(TIMEOUT)
    first = harness.runner('B')
    second = harness.runner('C')
    harness.pipeline.request_swap(loaded(first), tag='B')
    wait_until(lambda: harness.pipeline.loading == 0)
    harness.pipeline.request_swap(loaded(second), tag='C')
    wait_until(lambda: harness.pipeline.loading == 0)
    assert not first.is_active                         # replaced before it was installed
    gate.set()
    assert harness.pipeline.wait_idle(TIMEOUT)
    assert harness.swaps == [(second, None, 'C')]
    assert harness.pipeline.runner is second
    assert harness.log.where('start', 'B') == []


# -- shutdown -----------------------------------------------------------------------------
def test_stop_is_idempotent_joins_threads_and_keeps_runner_active() -> None:
    h = Harness()
    gate = threading.Event()
    old = h.runner('A', gate)
    old.activate()
    h.pipeline.start(old)
    h.pipeline.submit(0)
    assert old.entered.wait(TIMEOUT)
    h.pipeline.submit(1)                               # waiting when stop comes
    late = h.runner('B')
    h.pipeline.request_swap(loaded(late, delay=0.2), tag='B')
    result: List[Optional[Runner]] = []
    stopper = threading.Thread(target=lambda: result.append(h.pipeline.stop(TIMEOUT)))
    stopper.start()
    wait_until(lambda: h.pipeline.stopped)
    gate.set()                                         # let the frame in flight finish
    stopper.join(TIMEOUT)
    assert not stopper.is_alive()
    assert result == [old]
    assert old.is_active                               # the owner deactivates it
    assert not late.is_active                          # loaded during shutdown: freed
    assert h.swaps == []
    assert h.handled == [(0, 'A')]
    assert h.counters.get('dropped_shutdown') == 1
    alive = [t.name for t in threading.enumerate() if t.name.startswith('test-pipeline')]
    assert alive == []
    assert h.pipeline.stop() is old                    # idempotent
    h.pipeline.submit(2)                               # after stop: counted, not queued
    assert h.counters.get('dropped_shutdown') == 2
    h.assert_accounted()
    with pytest.raises(RuntimeError):
        h.pipeline.request_swap(loaded(h.runner('C')))
    with pytest.raises(RuntimeError):
        h.pipeline.start(old)


def test_stop_before_start_returns_none() -> None:
    h = Harness()
    h.pipeline.submit(1)
    assert h.pipeline.stop() is None
    assert h.counters.get('dropped_shutdown') == 1
    h.assert_accounted()
