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

"""Adaptive precision: step to a faster precision under load, and back when it passes.

A pure policy: :func:`decide` takes the previous :class:`PolicyState`, the latest
:class:`Measurements`, the :class:`Ladder` of allowed precisions and the time, and returns the
next state and a :class:`Decision` or None. Nothing here reads a clock or touches the node.

- **Breach**: the window's latency p95 over ``latency_budget_ms``, the dropped-frame share over
  ``drop_rate_limit``, or throttled GPU clocks, held for ``breach_window_s``: one step faster.
- **Recovery with hysteresis**: the latency the next slower precision would have (the current
  latency with the inference time scaled by the two precisions' measured costs) at or under
  ``recover_ratio`` times the budget, no drops over half the limit and no throttling, held for
  ``breach_window_s``: one step back towards the preferred precision, never past it.
- **Dwell**: no change sooner than the dwell after the previous one. A step down within two
  dwells of a step up (a flap) doubles the dwell, up to eight times ``min_dwell_s``; a step
  down after a longer calm sets it back to ``min_dwell_s``.
- **Floor**: the ladder holds only precisions whose measured accuracy meets ``min_accuracy``.
- **Manual override**: an operator's precision becomes the preferred one and pauses
  adaptation for ``override_pause_s``.
"""

from dataclasses import dataclass
from dataclasses import field
from dataclasses import replace
import math
from typing import Dict
from typing import List
from typing import Mapping
from typing import Optional
from typing import Sequence
from typing import Tuple

MAX_DWELL_FACTOR = 8.0


@dataclass(frozen=True)
class AdaptiveConfig:
    """The policy's parameters (node parameters of the same names, prefixed ``adaptive_``)."""

    latency_budget_ms: float = 0.0
    breach_window_s: float = 3.0
    recover_ratio: float = 0.7
    min_dwell_s: float = 10.0
    override_pause_s: float = 60.0
    drop_rate_limit: float = 0.2


@dataclass(frozen=True)
class Rung:
    """One allowed precision, with what the precision report measured (None: unknown)."""

    precision: str
    accuracy: Optional[float] = None
    report_latency_ms: Optional[float] = None


@dataclass(frozen=True)
class Ladder:
    """Allowed precisions, most accurate (slowest) first; ``excluded`` says who is out, why."""

    rungs: Tuple[Rung, ...]
    excluded: Tuple[Tuple[str, str], ...] = ()

    def names(self) -> List[str]:
        """Return the precisions, most accurate first."""
        return [r.precision for r in self.rungs]

    def rung(self, precision: str) -> Optional[Rung]:
        """Return the rung of ``precision`` (None when it is not allowed)."""
        return next((r for r in self.rungs if r.precision == precision), None)


def build_ladder(configured: Sequence[str], accuracy: Mapping[str, Optional[float]],
                 report_latency_ms: Mapping[str, Optional[float]],
                 min_accuracy: float, order: Sequence[str]) -> Ladder:
    """Return the ladder of ``configured`` precisions that meet ``min_accuracy``.

    ``accuracy`` and ``report_latency_ms`` come from the precision report (missing: unknown).
    With ``min_accuracy`` above 0 a precision of unknown accuracy is left out. Rungs are
    sorted by the report's latency (slowest first) when it has one for each, else by
    ``order`` (fp32, fp16, int8).
    """
    rungs: List[Rung] = []
    excluded: List[Tuple[str, str]] = []
    for precision in configured:
        acc = accuracy.get(precision)
        if min_accuracy > 0.0 and acc is None:
            excluded.append((precision, 'accuracy unknown (no precision report row)'))
            continue
        if min_accuracy > 0.0 and acc is not None and acc < min_accuracy:
            excluded.append((precision, f'accuracy {acc:.4f} < min_accuracy {min_accuracy:g}'))
            continue
        rungs.append(Rung(precision, acc, report_latency_ms.get(precision)))
    rank = {p: i for i, p in enumerate(order)}
    if rungs and all(r.report_latency_ms is not None for r in rungs):
        rungs.sort(key=lambda r: (-float(r.report_latency_ms or 0.0), rank.get(r.precision, 0)))
    else:
        rungs.sort(key=lambda r: rank.get(r.precision, len(rank)))
    return Ladder(tuple(rungs), tuple(excluded))


def order_by_cost(ladder: Ladder, cost_ms: Mapping[str, float]) -> Ladder:
    """Return ``ladder`` sorted by the costs measured in this process, slowest first.

    "Faster" comes from the precision report where it gives every rung a latency; otherwise,
    once every rung has a measured cost, from those. Until then the ladder is left as it is.
    """
    if all(r.report_latency_ms is not None for r in ladder.rungs) \
            or not all(cost_ms.get(r.precision, 0.0) > 0.0 for r in ladder.rungs):
        return ladder
    rungs = sorted(ladder.rungs, key=lambda r: -cost_ms[r.precision])
    return replace(ladder, rungs=tuple(rungs))


@dataclass(frozen=True)
class Measurements:
    """What the node measured over the recent window.

    ``latency_ms`` is the p95 of receipt to publish for frames run by the current precision
    (nan when none ran) and ``inference_ms`` their median inference time; ``frames`` how many
    frames the window holds; ``throttled`` None when no source can tell. ``cost_ms`` is each
    precision's own cost: the fastest inference it ran in this process (load only ever slows
    a run down), so that the ratio of two costs holds whatever the load is now.
    """

    latency_ms: float = math.nan
    frames: int = 0
    drop_rate: float = 0.0
    throttled: Optional[bool] = None
    inference_ms: float = math.nan
    cost_ms: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class PolicyState:
    """Where the policy stands; a new value after every call (never changed in place)."""

    current: str
    preferred: str
    changed_at: float = -math.inf
    breach_since: Optional[float] = None
    clear_since: Optional[float] = None
    paused_until: float = -math.inf
    dwell_s: float = 0.0
    last_step_up_at: Optional[float] = None


@dataclass(frozen=True)
class Decision:
    """Switch to ``precision``; ``reason`` is the one log line, with its figures."""

    precision: str
    reason: str
    faster: bool


def start(precision: str, now: float, config: AdaptiveConfig) -> PolicyState:
    """Return the state of a node that starts serving ``precision`` at ``now``."""
    return PolicyState(current=precision, preferred=precision, changed_at=now,
                       dwell_s=config.min_dwell_s)


def manual_override(state: PolicyState, precision: str, now: float,
                    config: AdaptiveConfig) -> PolicyState:
    """Return the state after an operator set ``precision``: it is preferred, adaptation waits."""
    return replace(state, current=precision, preferred=precision, changed_at=now,
                   breach_since=None, clear_since=None,
                   paused_until=now + config.override_pause_s, dwell_s=config.min_dwell_s,
                   last_step_up_at=None)


def breach_signals(m: Measurements, config: AdaptiveConfig) -> List[str]:
    """Return the reasons the current precision is too slow, with their figures."""
    signals: List[str] = []
    budget = config.latency_budget_ms
    if budget > 0.0 and m.frames > 0 and m.latency_ms > budget:
        signals.append(f'latency p95 {m.latency_ms:.1f} ms > budget {budget:g} ms')
    if m.drop_rate > config.drop_rate_limit:
        signals.append(f'{m.drop_rate:.0%} of frames dropped > {config.drop_rate_limit:.0%}')
    if m.throttled:
        signals.append('GPU clocks throttled')
    return signals


def predicted_latency_ms(m: Measurements, current: Rung, target: Rung) -> float:
    """Return the latency ``target`` would have now: the inference part scaled by cost.

    The cost ratio comes from the costs measured in this process for both precisions, else
    from the precision report's latencies; without either it is unknown and the prediction is
    infinite (the policy does not step back blind).
    """
    now_cost = m.cost_ms.get(current.precision, math.nan)
    then_cost = m.cost_ms.get(target.precision, math.nan)
    if now_cost > 0.0 and then_cost > 0.0:
        ratio = then_cost / now_cost
    elif current.report_latency_ms and target.report_latency_ms:
        ratio = target.report_latency_ms / current.report_latency_ms
    else:
        return math.inf
    part = m.inference_ms if m.inference_ms > 0.0 else m.latency_ms
    return m.latency_ms + part * (ratio - 1.0)


def _accuracy_text(rung: Rung, min_accuracy: float) -> str:
    if rung.accuracy is None:
        return 'accuracy not measured'
    floor = f' >= floor {min_accuracy:g}' if min_accuracy > 0.0 else ''
    return f'accuracy {rung.accuracy:.4f}{floor}'


def decide(state: PolicyState, m: Measurements, ladder: Ladder, config: AdaptiveConfig,
           now: float, min_accuracy: float = 0.0) -> Tuple[PolicyState, Optional[Decision]]:
    """Return the next state and the precision to switch to (None: stay)."""
    if now < state.paused_until:
        return replace(state, breach_since=None, clear_since=None), None
    names = ladder.names()
    if state.current not in names or m.frames <= 0:
        return replace(state, breach_since=None, clear_since=None), None
    index = names.index(state.current)
    dwell_ok = now - state.changed_at >= state.dwell_s
    signals = breach_signals(m, config)
    if signals:
        since = state.breach_since if state.breach_since is not None else now
        state = replace(state, breach_since=since, clear_since=None)
        if now - since < config.breach_window_s or not dwell_ok or index + 1 >= len(names):
            return state, None
        target = ladder.rungs[index + 1]
        flap = state.last_step_up_at is not None \
            and now - state.last_step_up_at < 2.0 * state.dwell_s
        dwell = min(state.dwell_s * 2.0, MAX_DWELL_FACTOR * config.min_dwell_s) if flap \
            else config.min_dwell_s
        reason = (f'adaptive precision: {state.current} -> {target.precision}: '
                  f'{"; ".join(signals)} for {now - since:.1f} s; {target.precision} '
                  f'{_accuracy_text(target, min_accuracy)}'
                  f'{f"; dwell now {dwell:g} s (it flapped)" if flap else ""}')
        return (replace(state, current=target.precision, changed_at=now, breach_since=None,
                        dwell_s=dwell),
                Decision(target.precision, reason, faster=True))
    state = replace(state, breach_since=None)
    preferred = names.index(state.preferred) if state.preferred in names else 0
    if index <= preferred:
        return replace(state, clear_since=None), None
    target = ladder.rungs[index - 1]
    predicted = predicted_latency_ms(m, ladder.rungs[index], target)
    limit = config.recover_ratio * config.latency_budget_ms
    clear = (config.latency_budget_ms <= 0.0 or predicted <= limit) \
        and m.drop_rate <= config.drop_rate_limit / 2.0 and not m.throttled
    if not clear:
        return replace(state, clear_since=None), None
    since = state.clear_since if state.clear_since is not None else now
    state = replace(state, clear_since=since)
    if now - since < config.breach_window_s or not dwell_ok:
        return state, None
    budget_text = (f'predicted latency p95 {predicted:.1f} ms <= {limit:.1f} ms '
                   f'({config.recover_ratio:g} x budget)' if config.latency_budget_ms > 0.0
                   else 'no drops or throttling')
    reason = (f'adaptive precision: {state.current} -> {target.precision}: load passed: '
              f'{budget_text} for {now - since:.1f} s; {target.precision} '
              f'{_accuracy_text(target, min_accuracy)}')
    return (replace(state, current=target.precision, changed_at=now, clear_since=None,
                    last_step_up_at=now),
            Decision(target.precision, reason, faster=False))


def describe(state: PolicyState, now: float) -> Dict[str, str]:
    """Return the policy's state as diagnostic key-values."""
    values = {'adaptive preferred precision': state.preferred}
    if now < state.paused_until:
        values['adaptive paused s'] = f'{state.paused_until - now:.1f}'
    if state.breach_since is not None:
        values['adaptive breach for s'] = f'{now - state.breach_since:.1f}'
    if state.clear_since is not None:
        values['adaptive clear for s'] = f'{now - state.clear_since:.1f}'
    values['adaptive dwell s'] = f'{state.dwell_s:g}'
    return values
