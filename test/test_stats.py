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

"""Tests of the latency tracker, the frame counters and the log throttle."""

import math
import threading
from typing import List

import numpy as np
import pytest

from accel_ai_ros.stats import COUNTER_NAMES
from accel_ai_ros.stats import FrameCounters
from accel_ai_ros.stats import LatencyTracker
from accel_ai_ros.stats import OUTCOME_NAMES
from accel_ai_ros.stats import Throttle


class ManualClock:
    """A clock that moves only when the test says so."""

    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        """Return the current time."""
        return self.now


def _run_threads(target: 'object', count: int) -> None:
    barrier = threading.Barrier(count)

    def body() -> None:
        barrier.wait()
        target()  # type: ignore[operator]

    threads = [threading.Thread(target=body) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30.0)
        assert not thread.is_alive()


def test_percentiles_match_numpy() -> None:
    rng = np.random.default_rng(7)
    data = rng.gamma(2.0, 3.0, size=500)
    tracker = LatencyTracker()
    for value in data:
        tracker.record('infer', float(value))
    got = tracker.percentiles('infer')
    np.testing.assert_allclose(got, np.percentile(data, [50, 95, 99]), rtol=1e-12)
    got = tracker.percentiles('infer', qs=(0, 12.5, 100))
    np.testing.assert_allclose(got, np.percentile(data, [0, 12.5, 100]), rtol=1e-12)
    assert got[0] == pytest.approx(data.min())
    assert got[2] == pytest.approx(data.max())


def test_percentiles_of_unknown_stage_are_nan() -> None:
    tracker = LatencyTracker()
    tracker.record('queue', 1.0)
    values = tracker.percentiles('infer')
    assert len(values) == 3
    assert all(math.isnan(v) for v in values)
    assert len(tracker.percentiles('infer', qs=(50,))) == 1
    assert tracker.stages() == ['queue']


def test_window_rolls() -> None:
    tracker = LatencyTracker(window=10)
    for value in range(25):
        tracker.record('infer', float(value))
    assert tracker.samples('infer') == [float(v) for v in range(15, 25)]
    expected = np.percentile(np.arange(15, 25, dtype=float), [50, 95, 99])
    np.testing.assert_allclose(tracker.percentiles('infer'), expected)
    summary = tracker.summary()
    assert summary['infer']['count'] == 25
    assert summary['infer']['p50'] == pytest.approx(19.5)
    assert summary['infer']['max'] == 24.0
    assert summary['infer']['mean'] == pytest.approx(19.5)


def test_summary_stages_and_reset() -> None:
    tracker = LatencyTracker()
    tracker.record('total', 4.0)
    tracker.record('queue', 2.0)
    tracker.record('queue', 6.0)
    summary = tracker.summary()
    assert list(summary) == ['queue', 'total']
    assert set(summary['queue']) >= {'p50', 'p95', 'p99', 'count'}
    assert summary['queue']['p50'] == 4.0
    assert summary['queue']['count'] == 2
    assert tracker.stages() == ['queue', 'total']
    tracker.reset()
    assert tracker.stages() == []
    assert tracker.summary() == {}
    assert tracker.count('queue') == 0


def test_invalid_window() -> None:
    with pytest.raises(ValueError):
        LatencyTracker(window=0)


def test_concurrent_records_are_all_counted() -> None:
    tracker = LatencyTracker(window=100)

    def body() -> None:
        for i in range(2000):
            tracker.record('infer', float(i % 7))

    _run_threads(body, 8)
    assert tracker.count('infer') == 16000
    assert len(tracker.samples('infer')) == 100


def test_counters_are_thread_safe() -> None:
    counters = FrameCounters()

    def body() -> None:
        for _ in range(20000):
            counters.increment('received')
            counters.increment('processed')
        counters.increment('failed', 5)

    _run_threads(body, 8)
    snap = counters.snapshot()
    assert snap['received'] == 160000
    assert snap['processed'] == 160000
    assert snap['failed'] == 40
    assert set(snap) == set(COUNTER_NAMES)
    assert counters.get('dropped_stale') == 0


def test_counters_reject_unknown_names_and_account_frames() -> None:
    counters = FrameCounters()
    with pytest.raises(KeyError):
        counters.increment('procesed')
    with pytest.raises(KeyError):
        counters.get('nope')
    counters.increment('received', 10)
    for name in OUTCOME_NAMES:
        counters.increment(name)
    assert counters.unaccounted() == 10 - len(OUTCOME_NAMES)
    counters.reset()
    assert all(v == 0 for v in counters.snapshot().values())


def test_throttle_once_per_period_and_counts_suppressed() -> None:
    clock = ManualClock()
    throttle = Throttle(1.0, clock=clock)
    assert throttle.ready('stale')
    assert throttle.suppressed('stale') == 0
    results: List[bool] = []
    for _ in range(5):
        clock.now += 0.125
        results.append(throttle.ready('stale'))
    assert results == [False] * 5
    assert throttle.pending('stale') == 5
    assert throttle.ready('decode')  # keys are independent
    clock.now += 0.375                # 1.0 s after the first True
    assert throttle.ready('stale')
    assert throttle.suppressed('stale') == 5
    assert throttle.pending('stale') == 0
    assert not throttle.ready('stale')
    clock.now += 1.0
    assert throttle.poll('stale') == 1
    assert throttle.poll('stale') is None


def test_throttle_with_zero_period_always_ready() -> None:
    throttle = Throttle(0.0, clock=ManualClock())
    assert all(throttle.ready('k') for _ in range(3))
    with pytest.raises(ValueError):
        Throttle(-1.0)


def test_throttle_lets_one_thread_through() -> None:
    throttle = Throttle(3600.0)
    passed: List[int] = []
    lock = threading.Lock()

    def body() -> None:
        for _ in range(100):
            more = throttle.poll('k')
            if more is not None:
                with lock:
                    passed.append(more)

    _run_threads(body, 8)
    assert passed == [0]
    assert throttle.pending('k') == 799
