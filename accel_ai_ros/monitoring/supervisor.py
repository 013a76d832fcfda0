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

"""What the node's monitoring needs between its worker, its timers and its parameters.

Free of rclpy: the node hands it frame timings (worker thread), counter snapshots and system
samples (timer), operator precision changes (parameter callback), and asks it for the
diagnostic level and for adaptive-precision decisions. All methods are thread-safe.
"""

from dataclasses import replace
import math
import threading
import time
from typing import Callable
from typing import Dict
from typing import Mapping
from typing import Optional
from typing import Sequence

import numpy as np

from accel_ai_ros.monitoring import adaptive
from accel_ai_ros.monitoring.adaptive import AdaptiveConfig
from accel_ai_ros.monitoring.adaptive import Decision
from accel_ai_ros.monitoring.adaptive import Ladder
from accel_ai_ros.monitoring.adaptive import Measurements
from accel_ai_ros.monitoring.health import assess
from accel_ai_ros.monitoring.health import CounterWindow
from accel_ai_ros.monitoring.health import Health
from accel_ai_ros.monitoring.health import HealthLimits
from accel_ai_ros.monitoring.health import TimedSamples
from accel_ai_ros.monitoring.health import WindowRates
from accel_ai_ros.monitoring.system import SystemSample
from accel_ai_ros.precision_report import Report
from accel_ai_ros.precision_report import row_for


def ladder_from_report(report: Optional[Report], configured: Sequence[str],
                       min_accuracy: float, backends: Mapping[str, Optional[str]],
                       order: Sequence[str]) -> Ladder:
    """Return the adaptive ladder of ``configured`` precisions, the report's figures in it."""
    accuracy: Dict[str, Optional[float]] = {}
    latency: Dict[str, Optional[float]] = {}
    for precision in configured:
        row = None
        if report is not None:
            row = row_for(report, precision, backends.get(precision)) or \
                row_for(report, precision)
        if row is not None:
            acc, lat = row.get('accuracy'), row.get('latency_p50_ms')
            accuracy[precision] = float(acc) if isinstance(acc, (int, float)) \
                and math.isfinite(acc) else None
            latency[precision] = float(lat) if isinstance(lat, (int, float)) \
                and math.isfinite(lat) and lat > 0 else None
    return adaptive.build_ladder(configured, accuracy, latency, min_accuracy, order)


class Supervisor:
    """Frame and counter windows, the diagnostic level and the adaptive-precision state."""

    def __init__(self, limits: HealthLimits, config: AdaptiveConfig, window_s: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._limits = limits
        self._config = config
        self._health_latency = TimedSamples(window_s)
        self._health_counts = CounterWindow(window_s)
        self._policy_latency = TimedSamples(config.breach_window_s)
        self._policy_inference = TimedSamples(config.breach_window_s)
        self._policy_counts = CounterWindow(config.breach_window_s)
        # Each precision's cost: the fastest inference it ran in this process. Load only ever
        # slows a run down, so the fastest one is the closest to the model's own cost.
        self._best_cost: Dict[str, float] = {}
        self._last_received = -1
        self._last_image_at: Optional[float] = None
        self._active_since: Optional[float] = None
        self._streak: Optional[int] = None      # frames processed since the last failure
        self._state: Optional[adaptive.PolicyState] = None
        self.last_decision = ''

    def configure(self, limits: HealthLimits, config: AdaptiveConfig) -> None:
        """Take new thresholds (a runtime parameter change)."""
        with self._lock:
            self._limits, self._config = limits, config
            self._policy_latency.window_s = config.breach_window_s
            self._policy_inference.window_s = config.breach_window_s
            self._policy_counts.window_s = config.breach_window_s

    # -- events --------------------------------------------------------------------------
    def activated(self, precision: str, counters: Mapping[str, int]) -> None:
        """Start a new serving period with ``precision``; ``counters`` as they are now."""
        self.counters(counters)
        now = self._clock()
        with self._lock:
            self._active_since, self._last_image_at = now, None
            self._state = adaptive.start(precision, now, self._config)
            self._policy_latency.clear()
            self._policy_inference.clear()
            self._health_latency.clear()

    def deactivated(self) -> None:
        """End the serving period (the node deactivated)."""
        with self._lock:
            self._active_since = None
            self._state = None

    def frame_done(self, precision: str, total_ms: float, inference_ms: float) -> None:
        """Record one processed frame (worker thread)."""
        now = self._clock()
        with self._lock:
            self._health_latency.add(now, total_ms)
            if self._streak is not None:
                self._streak += 1
            self._policy_latency.add(now, total_ms)
            self._policy_inference.add(now, inference_ms)
            if inference_ms > 0.0:
                best = self._best_cost.get(precision, math.inf)
                self._best_cost[precision] = min(best, float(inference_ms))

    def frame_failed(self) -> None:
        """Record one failed or rejected frame (worker thread)."""
        with self._lock:
            self._streak = 0

    def counters(self, snapshot: Mapping[str, int]) -> None:
        """Record a snapshot of the frame counters; called from the timer."""
        now = self._clock()
        with self._lock:
            self._health_counts.add(now, snapshot)
            self._policy_counts.add(now, snapshot)
            received = int(snapshot.get('received', 0))
            if received != self._last_received:
                if self._last_received >= 0:
                    self._last_image_at = now
                self._last_received = received

    def swapped(self, precision: str) -> None:
        """Note that ``precision`` serves now; the latency window starts over."""
        with self._lock:
            self._policy_latency.clear()
            self._policy_inference.clear()
            if self._state is not None:
                self._state = replace(self._state, current=precision)

    def manual(self, precision: str) -> None:
        """Take an operator's ``precision`` as preferred and pause adaptation."""
        now = self._clock()
        with self._lock:
            if self._state is not None:
                self._state = adaptive.manual_override(self._state, precision, now,
                                                       self._config)

    # -- questions -----------------------------------------------------------------------
    def health(self, *, active: bool, summary_ok: str, engine_error: str = '',
               last_failure: str = '', sample: Optional[SystemSample] = None) -> Health:
        """Return the diagnostic level now."""
        now = self._clock()
        with self._lock:
            since = self._last_image_at if self._last_image_at is not None \
                else self._active_since
            counts = self._health_counts
            return assess(
                self._limits, active=active, summary_ok=summary_ok, engine_error=engine_error,
                seconds_without_image=None if since is None or not active else now - since,
                rates=WindowRates.from_delta(counts.delta()),
                succeeded_since_failure=self._streak,
                last_failure=last_failure,
                latency_p99_ms=self._health_latency.percentile(now, 99.0),
                throttled=sample.throttled if sample else None,
                throttle_reasons=sample.throttle_reasons if sample else '')

    def adapt(self, ladder: Ladder, sample: Optional[SystemSample],
              min_accuracy: float) -> Optional[Decision]:
        """Run the policy once; return a decision to act on (already taken into the state)."""
        now = self._clock()
        with self._lock:
            if self._state is None:
                return None
            latencies = self._policy_latency.values(now)
            inference = self._policy_inference.values(now)
            costs = dict(self._best_cost)
            m = Measurements(
                latency_ms=float(np.percentile(latencies, 95.0)) if latencies else math.nan,
                frames=len(latencies),
                drop_rate=WindowRates.from_delta(self._policy_counts.delta()).drop_share,
                throttled=sample.throttled if sample else None,
                inference_ms=float(np.median(inference)) if inference else math.nan,
                cost_ms=costs)
            ladder = adaptive.order_by_cost(ladder, costs)
            self._state, decision = adaptive.decide(self._state, m, ladder, self._config, now,
                                                    min_accuracy)
            if decision is not None:
                self.last_decision = decision.reason
            return decision

    def values(self) -> Dict[str, str]:
        """Return the adaptive state as diagnostic key-values; empty when inactive."""
        now = self._clock()
        with self._lock:
            if self._state is None:
                return {}
            values = adaptive.describe(self._state, now)
            if self.last_decision:
                values['adaptive last decision'] = self.last_decision
            return values
