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

"""
Thread-safe latency percentiles, frame counters and a log-line throttle.

The subscription callback, the worker thread and the diagnostics timer all touch these
objects, so every method takes a lock and none of them blocks for long: percentiles are
computed on a copy of the window, outside the lock.
"""

import collections
import math
import threading
import time
from typing import Callable
from typing import Deque
from typing import Dict
from typing import List
from typing import Optional
from typing import Sequence
from typing import Tuple

import numpy as np

#: The frame counters, in the order diagnostics show them. Every frame handed to the
#: pipeline is counted ``received`` and, once it leaves the pipeline, exactly one of the
#: others, so ``received == sum(all others) + frames waiting or in flight``.
COUNTER_NAMES: Tuple[str, ...] = (
    'received',
    'processed',
    'dropped_overtaken',
    'dropped_stale',
    'dropped_no_engine',
    'dropped_shutdown',
    'rejected',
    'failed',
)

#: The counters that together account for every frame that left the pipeline.
OUTCOME_NAMES: Tuple[str, ...] = COUNTER_NAMES[1:]

DEFAULT_QUANTILES: Tuple[float, ...] = (50.0, 95.0, 99.0)


def _quantile_key(q: float) -> str:
    """Return the summary key of quantile ``q``: 50 -> 'p50', 99.9 -> 'p99.9'."""
    return f'p{q:g}'


def summarize(samples: Sequence[float],
              qs: Sequence[float] = DEFAULT_QUANTILES) -> Dict[str, float]:
    """Return ``{'p50', 'p95', 'p99', 'mean', 'max', 'count'}`` of ``samples`` (nan when empty).

    The one percentile summary of the package: the tracker, the benchmarks and the trade-off
    report all use it (numpy's linear interpolation).
    """
    if len(samples) == 0:
        entry = {_quantile_key(q): math.nan for q in qs}
        entry.update(mean=math.nan, max=math.nan, count=0.0)
        return entry
    data = np.asarray(samples, dtype=np.float64)
    values = np.atleast_1d(np.percentile(data, list(qs)))
    entry = {_quantile_key(q): float(v) for q, v in zip(qs, values)}
    entry.update(mean=float(data.mean()), max=float(np.max(data, axis=None)),
                 count=float(data.size))
    return entry


class LatencyTracker:
    """
    Keep the last ``window`` samples (milliseconds) of each named stage.

    Percentiles use :func:`numpy.percentile` with its default linear interpolation, over the
    samples currently in the window. A stage with no samples yields ``nan``.
    """

    def __init__(self, window: int = 1000) -> None:
        if int(window) < 1:
            raise ValueError(f'latency window must be at least 1 sample, got {window}')
        self._window = int(window)
        self._lock = threading.Lock()
        self._samples: Dict[str, Deque[float]] = {}
        self._totals: Dict[str, int] = {}

    @property
    def window(self) -> int:
        """Return how many samples per stage the tracker keeps."""
        return self._window

    def record(self, stage: str, ms: float) -> None:
        """Add one sample of ``ms`` milliseconds to ``stage``; the oldest rolls out."""
        with self._lock:
            samples = self._samples.get(stage)
            if samples is None:
                samples = collections.deque(maxlen=self._window)
                self._samples[stage] = samples
                self._totals[stage] = 0
            samples.append(float(ms))
            self._totals[stage] += 1

    def samples(self, stage: str) -> List[float]:
        """Return a copy of the samples in ``stage``'s window, oldest first."""
        with self._lock:
            return list(self._samples.get(stage, ()))

    def count(self, stage: str) -> int:
        """Return how many samples ``stage`` received since construction or :meth:`reset`."""
        with self._lock:
            return self._totals.get(stage, 0)

    def percentiles(self, stage: str,
                    qs: Sequence[float] = DEFAULT_QUANTILES) -> Tuple[float, ...]:
        """Return the percentiles ``qs`` (0 to 100) of the window of ``stage``; nan when empty."""
        data = self.samples(stage)
        if not data:
            return tuple(math.nan for _ in qs)
        values = np.percentile(np.asarray(data, dtype=np.float64), list(qs))
        return tuple(float(v) for v in np.atleast_1d(values))

    def stages(self) -> List[str]:
        """Return the names of the stages that have samples, sorted."""
        with self._lock:
            return sorted(self._samples)

    def summary(self, qs: Sequence[float] = DEFAULT_QUANTILES) -> Dict[str, Dict[str, float]]:
        """
        Return ``stage -> {'p50', 'p95', 'p99', 'mean', 'max', 'count'}``.

        ``count`` is the number of samples recorded since construction or :meth:`reset`
        (it keeps growing after the window is full); the other values describe the window.
        """
        with self._lock:
            copies = {stage: list(s) for stage, s in self._samples.items()}
            totals = dict(self._totals)
        out: Dict[str, Dict[str, float]] = {}
        for stage in sorted(copies):
            entry = summarize(copies[stage], qs)
            entry['count'] = float(totals[stage])
            out[stage] = entry
        return out

    def reset(self) -> None:
        """Forget every sample of every stage."""
        with self._lock:
            self._samples.clear()
            self._totals.clear()


class FrameCounters:
    """
    Thread-safe frame counters named in :data:`COUNTER_NAMES`.

    Invariant: ``received == processed + dropped_overtaken + dropped_stale +
    dropped_no_engine + dropped_shutdown + rejected + failed + (frames waiting or in
    flight)``; :meth:`unaccounted` returns the last term. An unknown name raises
    ``KeyError`` so that a typo cannot silently start a new counter.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: Dict[str, int] = dict.fromkeys(COUNTER_NAMES, 0)

    def increment(self, name: str, n: int = 1) -> None:
        """Add ``n`` to counter ``name``."""
        with self._lock:
            if name not in self._values:
                raise KeyError(f'unknown frame counter {name!r}; known: {list(COUNTER_NAMES)}')
            self._values[name] += n

    def get(self, name: str) -> int:
        """Return the value of counter ``name``."""
        with self._lock:
            if name not in self._values:
                raise KeyError(f'unknown frame counter {name!r}; known: {list(COUNTER_NAMES)}')
            return self._values[name]

    def snapshot(self) -> Dict[str, int]:
        """Return a consistent copy of every counter."""
        with self._lock:
            return dict(self._values)

    def unaccounted(self) -> int:
        """Return ``received`` minus every outcome: the frames waiting or in flight."""
        snap = self.snapshot()
        return snap['received'] - sum(snap[name] for name in OUTCOME_NAMES)

    def reset(self) -> None:
        """Set every counter back to zero."""
        with self._lock:
            for name in self._values:
                self._values[name] = 0


class Throttle:
    """
    Let one log line per key through at most once per ``period_s`` seconds.

    Typical use, atomic even when several threads log the same key::

        more = throttle.poll('stale')
        if more is not None:
            logger.warn(f'dropping stale frames ({more} more since)')

    :meth:`ready` and :meth:`suppressed` are the two-step form of the same thing.
    """

    def __init__(self, period_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        if period_s < 0:
            raise ValueError(f'throttle period must be >= 0 seconds, got {period_s}')
        self._period = float(period_s)
        self._clock = clock
        self._lock = threading.Lock()
        self._last: Dict[str, float] = {}
        self._running: Dict[str, int] = {}
        self._reported: Dict[str, int] = {}

    def poll(self, key: str) -> Optional[int]:
        """Return None while ``key`` is throttled, else how many calls were suppressed."""
        with self._lock:
            now = self._clock()
            last = self._last.get(key)
            if last is not None and now - last < self._period:
                self._running[key] = self._running.get(key, 0) + 1
                return None
            self._last[key] = now
            count = self._running.get(key, 0)
            self._reported[key] = count
            self._running[key] = 0
            return count

    def ready(self, key: str) -> bool:
        """Return True at most once per period for ``key``; count the False answers."""
        return self.poll(key) is not None

    def suppressed(self, key: str) -> int:
        """
        Return how many calls for ``key`` were suppressed before the latest True of ready.

        The number is taken (and the running count reset) each time :meth:`ready` returns
        True, so a log line written right after it can say "(N more since)".
        """
        with self._lock:
            return self._reported.get(key, 0)

    def pending(self, key: str) -> int:
        """Return how many calls for ``key`` were suppressed since the latest True."""
        with self._lock:
            return self._running.get(key, 0)
