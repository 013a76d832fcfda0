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

"""What the node does with a trade-off report: start from its advice, hold an accuracy floor.

Pure functions over a loaded report (see :mod:`accel_ai_ros.precision_report`), so the node
only wires them to its parameters.
"""

from typing import Optional
from typing import Sequence
from typing import Tuple

from accel_ai_ros.precision_report import accuracy_for
from accel_ai_ros.precision_report import recommend
from accel_ai_ros.precision_report import Report
from accel_ai_ros.precision_report import row_for


def _rows_backend(report: Report, precision: str, backend: Optional[str]) -> Optional[str]:
    """Return ``backend`` when the report has a row for it, else None (any backend)."""
    if backend and row_for(report, precision, backend) is not None:
        return backend
    return None


def recommended_precision(report: Report, configured: Sequence[str],
                          min_accuracy: Optional[float], max_latency_ms: Optional[float],
                          backend: Optional[str] = None) -> Tuple[Optional[str], str]:
    """Return the fastest configured precision meeting the limits, and why.

    Only rows whose precision the node has an engine for are considered; rows of ``backend``
    are preferred when the report has any. Returns ``(None, reason)`` when none qualifies.
    """
    rows = [r for r in report['rows'] if r['precision'] in configured]
    if backend and any(r['backend'] == backend for r in rows):
        rows = [r for r in rows if r['backend'] == backend]
    best = recommend(dict(report, rows=rows), min_accuracy, max_latency_ms)
    limits = []
    if min_accuracy is not None:
        limits.append(f'accuracy >= {min_accuracy:g}')
    if max_latency_ms is not None:
        limits.append(f'latency p50 <= {max_latency_ms:g} ms')
    wanted = ' and '.join(limits) or 'no limits'
    if best is None:
        return None, (f'no configured precision ({", ".join(configured)}) meets {wanted} in '
                      'the report')
    return str(best['precision']), (
        f'{best["variant"]} on {best["backend"]}: {best["accuracy_metric"]} '
        f'{best["accuracy"]:.4f}, latency p50 {best["latency_p50_ms"]:.3f} ms ({wanted})')


def accuracy_floor_problem(report: Report, precision: str, min_accuracy: float,
                           backend: Optional[str] = None) -> Optional[str]:
    """Return why ``precision`` is below the accuracy floor, or None when it is not.

    A precision the report does not measure is refused too, because its accuracy is unknown.
    """
    if min_accuracy <= 0.0:
        return None
    chosen = _rows_backend(report, precision, backend)
    accuracy = accuracy_for(report, precision, chosen)
    if accuracy is None:
        return (f'the precision report has no accuracy for {precision}; measure it with '
                'benchmark precision, or set min_accuracy to 0')
    if accuracy < min_accuracy:
        row = row_for(report, precision, chosen)
        metric = row['accuracy_metric'] if row else 'accuracy'
        return (f'{precision} measured {metric} {accuracy:.4f} < min_accuracy '
                f'{min_accuracy:g} in the precision report')
    return None
