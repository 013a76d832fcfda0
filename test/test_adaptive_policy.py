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

"""The adaptive-precision policy, driven by a made-up clock and made-up measurements."""

import math
from typing import List
from typing import Optional
from typing import Tuple

from accel_ai_ros.monitoring import adaptive
from accel_ai_ros.monitoring.adaptive import AdaptiveConfig
from accel_ai_ros.monitoring.adaptive import build_ladder
from accel_ai_ros.monitoring.adaptive import Measurements

CONFIG = AdaptiveConfig(latency_budget_ms=50.0, breach_window_s=3.0, recover_ratio=0.7,
                        min_dwell_s=10.0, override_pause_s=30.0, drop_rate_limit=0.2)
ORDER = ('fp32', 'fp16', 'int8')
LADDER = build_ladder(['fp32', 'fp16', 'int8'], {'fp32': 0.97, 'fp16': 0.97, 'int8': 0.95},
                      {}, 0.0, ORDER)
# Inference costs of each precision (idle): fp16 costs a quarter of fp32.
COSTS = {'fp32': 40.0, 'fp16': 10.0, 'int8': 8.0}


def loaded(latency: float, precision: str, **kw) -> Measurements:
    """Measurements of ``precision`` at ``latency`` ms, with the usual inference costs."""
    return Measurements(latency_ms=latency, frames=30, inference_ms=latency * 0.8,
                        cost_ms=COSTS, **kw)


def run(measure, until: float, state=None, step: float = 0.5, ladder=LADDER,
        min_accuracy: float = 0.0,
        t0: float = 0.0) -> Tuple[adaptive.PolicyState, List[Tuple[float, str]]]:
    """Drive the policy every ``step`` s from ``t0`` to ``until``; ``measure(t, current)``."""
    state = state or adaptive.start('fp32', 0.0, CONFIG)
    changes: List[Tuple[float, str]] = []
    t = t0
    while t <= until:
        state, decision = adaptive.decide(state, measure(t, state.current), ladder, CONFIG, t,
                                          min_accuracy)
        if decision is not None:
            assert decision.precision == state.current
            changes.append((t, decision.precision))
        t += step
    return state, changes


def test_a_breach_must_last_the_window_and_respect_the_dwell():
    # Over budget from t=0, but the node only started at t=0: the dwell (10 s) holds it.
    state, changes = run(lambda t, p: loaded(80.0, p), until=9.5)
    assert changes == [] and state.current == 'fp32' and state.breach_since == 0.0
    state, changes = run(lambda t, p: loaded(80.0 if p == 'fp32' else 25.0, p), until=10.5)
    assert changes == [(10.0, 'fp16')]


def test_a_short_spike_does_not_switch():
    start = adaptive.start('fp32', -100.0, CONFIG)          # long past the dwell
    state, changes = run(lambda t, p: loaded(80.0 if 1.0 <= t < 3.5 else 30.0, p),
                         until=20.0, state=start)
    assert changes == [], 'a 2.5 s spike is shorter than the 3 s breach window'


def test_breach_then_recovery_with_hysteresis():
    start = adaptive.start('fp32', -100.0, CONFIG)

    def load(t: float, p: str) -> Measurements:
        heavy = 5.0 <= t < 30.0
        # Under load fp32 takes 90 ms, fp16 40 ms; idle 45 ms and 15 ms.
        latency = {'fp32': 90.0 if heavy else 45.0, 'fp16': 40.0 if heavy else 15.0}[p]
        return loaded(latency, p)

    state, changes = run(load, until=60.0, state=start)
    assert changes[0] == (8.0, 'fp16'), 'down 3 s after the load started'
    # Back up only once fp32's predicted latency fits 0.7 x 50 = 35 ms: idle fp16 takes 15 ms
    # of which 12 ms inference, fp32 costs 4x: 15 + 12 * 3 = 51 ms > 35 ms. fp32 would take
    # 45 ms, under the budget but too close to it: the policy stays on fp16 (hysteresis).
    assert changes == [(8.0, 'fp16')]
    assert state.current == 'fp16'


def test_recovery_when_the_slower_precision_fits_well():
    start = adaptive.start('fp32', -100.0, CONFIG)

    def load(t: float, p: str) -> Measurements:
        heavy = 5.0 <= t < 30.0
        latency = {'fp32': 90.0 if heavy else 30.0, 'fp16': 40.0 if heavy else 8.0}[p]
        return Measurements(latency_ms=latency, frames=30, inference_ms=5.0 if not heavy else 20,
                            cost_ms={'fp32': 25.0, 'fp16': 5.0})

    state, changes = run(load, until=60.0, state=start)
    # Predicted fp32 after the load: 8 + 5 * (25 / 5 - 1) = 28 ms <= 35 ms: back at 33 s.
    assert changes == [(8.0, 'fp16'), (33.0, 'fp32')]
    assert state.current == 'fp32' and state.preferred == 'fp32'


def test_never_below_the_accuracy_floor():
    ladder = build_ladder(['fp32', 'fp16', 'int8'],
                          {'fp32': 0.97, 'fp16': 0.969, 'int8': 0.90}, {}, 0.95, ORDER)
    assert ladder.names() == ['fp32', 'fp16']
    assert ladder.excluded == (('int8', 'accuracy 0.9000 < min_accuracy 0.95'),)
    start = adaptive.start('fp32', -100.0, CONFIG)
    state, changes = run(lambda t, p: loaded(500.0, p), until=120.0, state=start,
                         ladder=ladder, min_accuracy=0.95)
    assert [p for _, p in changes] == ['fp16'], 'int8 is below the floor: fp16 is the bottom'
    # A precision of unknown accuracy is left out too when there is a floor.
    unknown = build_ladder(['fp32', 'fp16'], {'fp32': 0.97}, {}, 0.95, ORDER)
    assert unknown.names() == ['fp32']


def test_ladder_follows_the_reports_latency_when_it_has_all():
    latency = {'fp32': 5.0, 'fp16': 9.0, 'int8': 2.0}
    ladder = build_ladder(['fp32', 'fp16', 'int8'], {}, latency, 0.0, ORDER)
    assert ladder.names() == ['fp16', 'fp32', 'int8']


def test_manual_override_wins_and_pauses():
    start = adaptive.start('fp32', -100.0, CONFIG)
    state, changes = run(lambda t, p: loaded(80.0 if p == 'fp32' else 30.0, p), until=4.0,
                         state=start)
    assert state.current == 'fp16'
    state = adaptive.manual_override(state, 'fp32', 4.0, CONFIG)
    assert state.preferred == 'fp32' and state.paused_until == 34.0
    paused, changes = run(lambda t, p: loaded(80.0, p), until=33.5, state=state, t0=4.5)
    assert changes == [] and paused.current == 'fp32', 'no adaptation during the pause'
    after, changes = run(lambda t, p: loaded(80.0, p), until=40.0, state=paused, t0=34.0)
    assert changes and changes[0][1] == 'fp16' and changes[0][0] >= 37.0


def test_never_above_the_preferred_precision():
    state = adaptive.start('fp16', -100.0, CONFIG)
    state, changes = run(lambda t, p: loaded(1.0, p), until=60.0, state=state)
    assert changes == [] and state.current == 'fp16'


def test_no_flapping_when_the_load_sits_on_the_edge():
    start = adaptive.start('fp32', -100.0, CONFIG)

    def edge(t: float, p: str) -> Measurements:
        # fp32 breaches; fp16 looks as if fp32 would fit (a model of the cost that is wrong).
        return Measurements(latency_ms=60.0 if p == 'fp32' else 10.0, frames=30,
                            inference_ms=8.0, cost_ms={'fp32': 12.0, 'fp16': 10.0})

    state, changes = run(edge, until=300.0, state=start)
    gaps = [b[0] - a[0] for a, b in zip(changes, changes[1:])]
    assert all(g >= CONFIG.min_dwell_s for g in gaps), gaps
    # The dwell doubles with every flap, so switches thin out: 8 in 300 s instead of 30.
    assert len(changes) <= 8, changes
    assert gaps[-1] >= 8 * CONFIG.min_dwell_s, gaps


def test_drop_rate_and_throttling_are_breaches_and_block_recovery():
    start = adaptive.start('fp32', -100.0, CONFIG)
    state, changes = run(lambda t, p: loaded(10.0, p, drop_rate=0.5), until=5.0, state=start)
    assert changes == [(3.0, 'fp16')]
    start = adaptive.start('fp32', -100.0, CONFIG)
    state, changes = run(lambda t, p: loaded(10.0, p, throttled=True), until=5.0, state=start)
    assert changes == [(3.0, 'fp16')]
    state, changes = run(lambda t, p: loaded(5.0, p, throttled=t < 30.0), until=60.0,
                         state=adaptive.manual_override(state, 'fp32', -100.0, CONFIG))
    assert changes[0][1] == 'fp16'


def test_decisions_carry_their_figures_and_no_frames_means_no_decision():
    start = adaptive.start('fp32', -100.0, CONFIG)
    state: Optional[adaptive.PolicyState] = start
    decision = None
    for t in (0.0, 1.0, 2.0, 3.0):
        state, decision = adaptive.decide(state, loaded(80.0, 'fp32'), LADDER, CONFIG, t)
    assert decision is not None
    assert 'latency p95 80.0 ms > budget 50 ms for 3.0 s' in decision.reason
    assert 'fp32 -> fp16' in decision.reason and 'accuracy 0.9700' in decision.reason
    idle = Measurements(latency_ms=math.nan, frames=0)
    quiet, none = adaptive.decide(start, idle, LADDER, CONFIG, 10.0)
    assert none is None and quiet.breach_since is None
    assert adaptive.describe(state, 3.0)['adaptive preferred precision'] == 'fp32'


def test_no_step_back_without_a_cost_ratio_unless_the_report_gives_one():
    start = adaptive.start('fp32', -100.0, CONFIG)

    def load(t: float, p: str, costs=None) -> Measurements:
        latency = 90.0 if (p == 'fp32' and t < 10.0) else 5.0
        return Measurements(latency_ms=latency, frames=30, inference_ms=4.0,
                            cost_ms=costs or {})

    state, changes = run(load, until=60.0, state=start)
    assert changes == [(3.0, 'fp16')], 'the cost of fp32 against fp16 is unknown: stay'
    report = build_ladder(['fp32', 'fp16'], {}, {'fp32': 10.0, 'fp16': 4.0}, 0.0, ORDER)
    state, changes = run(load, until=60.0, state=start, ladder=report)
    # From the report: 5 + 4 * (10 / 4 - 1) = 11 ms <= 35 ms: back once the dwell allows.
    assert changes == [(3.0, 'fp16'), (13.0, 'fp32')]


def test_faster_comes_from_the_report_else_from_measured_costs():
    plain = build_ladder(['fp32', 'fp16', 'int8'], {}, {}, 0.0, ORDER)
    assert plain.names() == ['fp32', 'fp16', 'int8']
    # Measured here: int8 is slower than fp16 on this machine (no VNNI, say).
    measured = adaptive.order_by_cost(plain, {'fp32': 9.0, 'fp16': 3.0, 'int8': 5.0})
    assert measured.names() == ['fp32', 'int8', 'fp16']
    assert adaptive.order_by_cost(plain, {'fp32': 9.0}).names() == plain.names()
    reported = build_ladder(['fp32', 'fp16'], {}, {'fp32': 2.0, 'fp16': 4.0}, 0.0, ORDER)
    assert adaptive.order_by_cost(reported, {'fp32': 9.0, 'fp16': 3.0}).names() == \
        ['fp16', 'fp32'], 'the report wins'
