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

"""One diagnostic level for the node, from what it measured over a recent window.

Pure functions and small time-windowed records; the caller passes the time in, so tests drive
them with a made-up clock. Levels follow diagnostic_msgs/DiagnosticStatus: OK, WARN, ERROR
(STALE is the aggregator's, for a status that stopped arriving).

ERROR  the engine failed to load; no image for ``no_image_error_s``; the share of failed or
       rejected frames over the window at or above ``failure_error_ratio``.
WARN   not active; that share at or above ``failure_warn_ratio``; latency p99 over
       ``latency_budget_ms``; dropped frames over ``drop_rate_warn``; GPU clocks throttled.
OK     otherwise. The failure share falls back to OK as soon as ``min_frames`` frames in a
       row succeed after the last failure, without waiting for the window to pass.
"""

import collections
from dataclasses import dataclass
import math
from typing import Deque
from typing import Dict
from typing import List
from typing import Mapping
from typing import Optional
from typing import Sequence
from typing import Tuple

import numpy as np

OK, WARN, ERROR, STALE = 0, 1, 2, 3
LEVEL_NAMES = ('OK', 'WARN', 'ERROR', 'STALE')

#: Counters whose frames were taken in but never made it through: dropped ones.
DROPPED = ('dropped_overtaken', 'dropped_stale', 'dropped_no_engine')
#: Counters of frames the node could not use: bad input or a failing engine.
UNUSABLE = ('failed', 'rejected')


@dataclass(frozen=True)
class HealthLimits:
    """The thresholds of :func:`assess` (parameters of the same names)."""

    latency_budget_ms: float = 0.0
    drop_rate_warn: float = 0.2
    failure_warn_ratio: float = 0.1
    failure_error_ratio: float = 0.5
    no_image_error_s: float = 10.0
    min_frames: int = 5


class TimedSamples:
    """Values with the time they were taken, kept for ``window_s`` seconds."""

    def __init__(self, window_s: float) -> None:
        self.window_s = float(window_s)
        self._items: Deque[Tuple[float, float]] = collections.deque()

    def add(self, now: float, value: float) -> None:
        """Record ``value`` taken at ``now``."""
        self._items.append((now, float(value)))
        self._prune(now)

    def values(self, now: float) -> List[float]:
        """Return the values taken in the last ``window_s`` seconds before ``now``."""
        self._prune(now)
        return [v for _, v in self._items]

    def percentile(self, now: float, q: float) -> float:
        """Return the ``q``-th percentile of the window, q from 0 to 100; nan when empty."""
        data = self.values(now)
        return float(np.percentile(data, q)) if data else math.nan

    def clear(self) -> None:
        """Forget every value."""
        self._items.clear()

    def _prune(self, now: float) -> None:
        while self._items and self._items[0][0] < now - self.window_s:
            self._items.popleft()


class CounterWindow:
    """Snapshots of the frame counters over the last ``window_s`` seconds."""

    def __init__(self, window_s: float) -> None:
        self.window_s = float(window_s)
        self._snapshots: Deque[Tuple[float, Dict[str, int]]] = collections.deque()

    def add(self, now: float, counters: Mapping[str, int]) -> None:
        """Record a snapshot of the counters taken at ``now``."""
        self._snapshots.append((now, dict(counters)))
        # Keep one snapshot at or before the window's start, as the base of the deltas.
        while len(self._snapshots) > 2 and self._snapshots[1][0] <= now - self.window_s:
            self._snapshots.popleft()

    def delta(self) -> Dict[str, int]:
        """Return how much each counter grew over the window (empty before two snapshots)."""
        if len(self._snapshots) < 2:
            return {}
        (_, first), (_, last) = self._snapshots[0], self._snapshots[-1]
        return {name: last[name] - first.get(name, 0) for name in last}


@dataclass(frozen=True)
class WindowRates:
    """Frame shares over the window, from a :class:`CounterWindow` delta."""

    received: int = 0
    used: int = 0              # processed + failed + rejected
    unusable_share: float = 0.0
    drop_share: float = 0.0

    @classmethod
    def from_delta(cls, delta: Mapping[str, int]) -> 'WindowRates':
        """Compute the shares of one delta."""
        received = int(delta.get('received', 0))
        unusable = sum(int(delta.get(k, 0)) for k in UNUSABLE)
        used = int(delta.get('processed', 0)) + unusable
        dropped = sum(int(delta.get(k, 0)) for k in DROPPED)
        return cls(received=received, used=used,
                   unusable_share=unusable / used if used else 0.0,
                   drop_share=dropped / received if received else 0.0)


@dataclass(frozen=True)
class Health:
    """A level, its one-line message, and every problem found (level, sentence)."""

    level: int
    message: str
    problems: Tuple[Tuple[int, str], ...] = ()


def assess(limits: HealthLimits, *, active: bool, summary_ok: str,
           engine_error: str = '', seconds_without_image: Optional[float] = None,
           rates: WindowRates = WindowRates(), succeeded_since_failure: Optional[int] = None,
           last_failure: str = '', latency_p99_ms: float = math.nan,
           throttled: Optional[bool] = None, throttle_reasons: str = '') -> Health:
    """Return the node's level and message.

    ``summary_ok`` is the message when all is well ('running fp16'); ``seconds_without_image``
    is the time since the last frame arrived (or since activation when none did), None when
    not active; ``succeeded_since_failure`` is how many frames succeeded after the last
    failure in the window (None: none failed yet).
    """
    problems: List[Tuple[int, str]] = []
    if engine_error:
        problems.append((ERROR, engine_error))
    if not active:
        problems.append((WARN, 'not active: no engine loaded'))
    no_image = limits.no_image_error_s
    if active and no_image > 0.0 and seconds_without_image is not None \
            and seconds_without_image >= no_image:
        problems.append((ERROR, f'no image for {seconds_without_image:.1f} s '
                                f'(no_image_error_s {no_image:g})'))
    recovered = succeeded_since_failure is not None \
        and succeeded_since_failure >= limits.min_frames
    if rates.used >= limits.min_frames and not recovered and rates.unusable_share > 0.0:
        share = rates.unusable_share
        text = (f'{share:.0%} of frames failed or were rejected over the window'
                f'{": last: " + last_failure if last_failure else ""}')
        if share >= limits.failure_error_ratio:
            problems.append((ERROR, text))
        elif share >= limits.failure_warn_ratio:
            problems.append((WARN, text))
    budget = limits.latency_budget_ms
    if budget > 0.0 and latency_p99_ms > budget:
        problems.append((WARN, f'latency p99 {latency_p99_ms:.1f} ms over the '
                               f'{budget:g} ms budget'))
    if rates.received >= limits.min_frames and rates.drop_share > limits.drop_rate_warn:
        problems.append((WARN, f'{rates.drop_share:.0%} of frames dropped over the window '
                               f'(drop_rate_warn {limits.drop_rate_warn:g})'))
    if throttled:
        problems.append((WARN, f'GPU clocks throttled ({throttle_reasons or "reason unknown"})'))
    if not problems:
        return Health(OK, summary_ok)
    level = max(p[0] for p in problems)
    ordered = sorted(problems, key=lambda p: -p[0])
    return Health(level, '; '.join(text for _, text in ordered), tuple(ordered))


def level_name(level: int) -> str:
    """Return 'OK', 'WARN', 'ERROR' or 'STALE'."""
    return LEVEL_NAMES[level] if 0 <= level < len(LEVEL_NAMES) else str(level)


def ordered_stages(stages: Sequence[str]) -> List[str]:
    """Return latency stage names in the order a frame goes through them, unknown ones last."""
    order = {name: i for i, name in enumerate(STAGE_ORDER)}
    return sorted(stages, key=lambda s: (order.get(s, len(order)), s))


#: Stages of one frame, as the node records them, in the order a frame goes through them.
STAGE_ORDER = ('transport', 'queue', 'decode', 'preprocess', 'inference', 'postprocess',
               'publish', 'total', 'receipt_to_publish', 'stamp_to_publish')
