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

"""The trade-off report: its schema, Pareto front and the recommendation.

A report is one JSON document (``report.json``)::

    {"format": 1, "created": ISO date, "machine": {...}, "versions": {...},
     "dataset": {...}, "task": str, "settings": {...}, "reference": str,
     "rows": [row, ...], "skipped": [{"variant", "backend", "reason"}, ...]}

with one row per (variant, backend), see :data:`ROW_FIELDS` (and the optional
:data:`OPTIONAL_ROW_FIELDS`: parameters, zeros, compressed size, lever, caveat); newer
reports also carry ``caveats``, a list of sentences saying where a backend gains nothing.
``accuracy`` is the value of ``accuracy_metric``: a labelled metric ('top1', 'mAP@0.5')
when the data set has labels, otherwise the main agreement with the reference variant
('top1_agreement', 'box_f1', 'output_cosine'); ``agreement`` holds every agreement value
against the reference.

Everything here is pure logic except :func:`save_report` (atomic) and :func:`load_report`.
"""

import json
import math
import os
from pathlib import Path
from typing import Any
from typing import Dict
from typing import List
from typing import Optional
from typing import Sequence
from typing import Union

from accel_ai_ros.errors import AccelAiError
from accel_ai_ros.fileio import atomic_write

FORMAT = 1

Row = Dict[str, Any]
Report = Dict[str, Any]

#: Every field of a row, with its JSON type(s); None is allowed where a value is unknown.
ROW_FIELDS: Dict[str, tuple] = {
    'variant': (str,),
    'precision': (str,),
    'backend': (str,),
    'path': (str,),
    'size_bytes': (int,),
    'latency_p50_ms': (float, int),
    'latency_p95_ms': (float, int),
    'latency_p99_ms': (float, int),
    'throughput_fps': (float, int),
    'infer_p50_ms': (float, int),
    'infer_p95_ms': (float, int),
    'infer_p99_ms': (float, int),
    'infer_throughput_fps': (float, int),
    'peak_memory_mb': (float, int, type(None)),
    'baseline_memory_mb': (float, int, type(None)),
    'accuracy_metric': (str,),
    'accuracy': (float, int, type(None)),
    'metrics': (dict,),
    'agreement': (dict,),
}

#: Fields a row may have (older reports lack them): what the file holds and which lever it
#: pulls (see :mod:`~accel_ai_ros_tools.tradeoff.levers`); None where unknown.
OPTIONAL_ROW_FIELDS: Dict[str, tuple] = {
    'parameters': (int, type(None)),
    'nonzero_parameters': (int, type(None)),
    'size_compressed_bytes': (int, type(None)),
    'lever': (str,),
    'caveat': (str,),
}

#: Top-level fields of a report.
REPORT_FIELDS = ('format', 'created', 'machine', 'versions', 'dataset', 'task', 'settings',
                 'reference', 'rows', 'skipped')


class ReportError(AccelAiError):
    """A report file is missing, unreadable or does not follow the report schema."""


def check_row(row: Row) -> None:
    """Raise ReportError naming the first missing or mistyped field of ``row``."""
    for name, types in ROW_FIELDS.items():
        if name not in row:
            raise ReportError(f'a report row lacks {name!r}; regenerate the report with '
                              f'benchmark precision')
        if not isinstance(row[name], types) or isinstance(row[name], bool):
            raise ReportError(f'report row {row.get("variant")!r}: {name} is '
                              f'{row[name]!r}, expected {"/".join(t.__name__ for t in types)}')
    for name, types in OPTIONAL_ROW_FIELDS.items():
        if name in row and (not isinstance(row[name], types) or isinstance(row[name], bool)):
            raise ReportError(f'report row {row.get("variant")!r}: {name} is '
                              f'{row[name]!r}, expected {"/".join(t.__name__ for t in types)}')


def check_report(report: Report) -> None:
    """Raise ReportError when ``report`` does not follow the schema."""
    if not isinstance(report, dict):
        raise ReportError('a report is a JSON object; regenerate it with benchmark '
                          'precision')
    missing = [f for f in REPORT_FIELDS if f not in report]
    if missing:
        raise ReportError(f'the report lacks {", ".join(missing)}; regenerate it with '
                          f'benchmark precision')
    if report['format'] != FORMAT:
        raise ReportError(f'report format {report["format"]!r} is not {FORMAT}; regenerate '
                          f'it with this version of benchmark precision')
    if not isinstance(report['rows'], list):
        raise ReportError("the report's rows are not a list")
    for row in report['rows']:
        if not isinstance(row, dict):
            raise ReportError('a report row is not an object')
        check_row(row)
    caveats = report.get('caveats', [])
    if not isinstance(caveats, list) or not all(isinstance(c, str) for c in caveats):
        raise ReportError("the report's caveats are not a list of strings")


def save_report(report: Report, path: Union[str, 'os.PathLike[str]']) -> Path:
    """Check ``report`` and write it as JSON atomically (temp file, fsync, rename)."""
    check_report(report)
    return atomic_write(path, json.dumps(report, indent=2, allow_nan=False) + '\n')


def load_report(path: Union[str, 'os.PathLike[str]']) -> Report:
    """Read and check a report; raise ReportError saying what is wrong."""
    try:
        with open(path, encoding='utf-8') as f:
            report = json.load(f)
    except FileNotFoundError:
        raise ReportError(f'no report at {str(path)!r}; create one with benchmark '
                          f'precision --output-dir') from None
    except (OSError, ValueError) as error:
        raise ReportError(f'cannot read the report {str(path)!r} ({error}); regenerate it '
                          f'with benchmark precision') from None
    check_report(report)
    return dict(report)


def _maximise(x: str) -> bool:
    """Return True for axes where more is better (throughput)."""
    return x.endswith('fps')


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) \
        and math.isfinite(value)


def pareto_front(rows: Sequence[Row], x: str = 'latency_p50_ms',
                 y: str = 'accuracy') -> List[Row]:
    """Return the rows no other row dominates, ordered by ``x`` (best first).

    ``y`` is maximised; ``x`` is minimised, or maximised when it is a throughput (ends in
    'fps'). A row dominates another when it is at least as good on both axes and better on
    one; rows with equal values do not dominate each other, so ties all stay on the front.
    Rows without a finite ``x`` or ``y`` are left out.
    """
    sign = -1.0 if _maximise(x) else 1.0
    points = [r for r in rows if _finite(r.get(x)) and _finite(r.get(y))]

    def dominates(a: Row, b: Row) -> bool:
        ax, bx = sign * a[x], sign * b[x]
        return ax <= bx and a[y] >= b[y] and (ax < bx or a[y] > b[y])

    front = [r for r in points if not any(dominates(o, r) for o in points if o is not r)]
    return sorted(front, key=lambda r: (sign * r[x], -r[y]))


def _select(report: Report, backend: Optional[str]) -> List[Row]:
    rows = list(report['rows'])
    return [r for r in rows if backend is None or r['backend'] == backend]


def _order(row: Row) -> tuple:
    """Fastest first; ties: more accurate, then smaller on disk, then by name."""
    accuracy = row['accuracy'] if _finite(row['accuracy']) else -math.inf
    return (row['latency_p50_ms'], -accuracy, row['size_bytes'], row['variant'],
            row['backend'])


def _qualifies(row: Row, min_accuracy: Optional[float], max_latency_ms: Optional[float]) -> bool:
    if min_accuracy is not None and not (_finite(row['accuracy'])
                                         and row['accuracy'] >= min_accuracy):
        return False
    return max_latency_ms is None or row['latency_p50_ms'] <= max_latency_ms


def recommend(report: Report, min_accuracy: Optional[float] = None,
              max_latency_ms: Optional[float] = None,
              backend: Optional[str] = None) -> Optional[Row]:
    """Return the fastest row (latency p50) meeting both limits, or None when none does.

    ``min_accuracy`` bounds the row's ``accuracy`` from below (a row without one never meets
    it), ``max_latency_ms`` its ``latency_p50_ms`` from above; None means no limit. Ties on
    latency go to the more accurate row, then the smaller file. :func:`explain` says why.
    """
    candidates = [r for r in _select(report, backend)
                  if _qualifies(r, min_accuracy, max_latency_ms)]
    return min(candidates, key=_order) if candidates else None


def _limits(min_accuracy: Optional[float], max_latency_ms: Optional[float],
            metric: str) -> str:
    parts = []
    if min_accuracy is not None:
        parts.append(f'{metric} >= {min_accuracy:g}')
    if max_latency_ms is not None:
        parts.append(f'latency p50 <= {max_latency_ms:g} ms')
    return ' and '.join(parts) or 'no limits'


def explain(report: Report, min_accuracy: Optional[float] = None,
            max_latency_ms: Optional[float] = None, backend: Optional[str] = None) -> str:
    """Say which row :func:`recommend` picks and why, or why none qualifies."""
    rows = _select(report, backend)
    metric = rows[0]['accuracy_metric'] if rows else 'accuracy'
    limits = _limits(min_accuracy, max_latency_ms, metric)
    where = f' on {backend}' if backend else ''
    if not rows:
        known = sorted({r['backend'] for r in report['rows']}) or ['none']
        return (f'none qualifies: the report has no row{where}; backends measured: '
                f'{", ".join(known)}')
    best = recommend(report, min_accuracy, max_latency_ms, backend)
    if best is not None:
        count = sum(1 for r in rows if _qualifies(r, min_accuracy, max_latency_ms))
        accuracy = 'n/a' if best['accuracy'] is None else f'{best["accuracy"]:.4f}'
        return (f'{best["variant"]} ({best["precision"]}) on {best["backend"]}: latency p50 '
                f'{best["latency_p50_ms"]:.3f} ms, {metric} {accuracy}; the fastest of '
                f'{count} of {len(rows)} rows{where} meeting {limits}')
    reasons = []
    if min_accuracy is not None:
        scored = [r for r in rows if _finite(r['accuracy'])]
        if not scored:
            reasons.append(f'no row{where} has a measured {metric}')
        else:
            top = max(scored, key=lambda r: (r['accuracy'], -r['latency_p50_ms']))
            if top['accuracy'] < min_accuracy:
                reasons.append(f'the most accurate row, {top["variant"]} on {top["backend"]}, '
                               f'reaches {metric} {top["accuracy"]:.4f} < {min_accuracy:g}')
            elif max_latency_ms is not None:
                fast = min((r for r in scored if r['accuracy'] >= min_accuracy), key=_order)
                reasons.append(f'the fastest row meeting {metric} >= {min_accuracy:g}, '
                               f'{fast["variant"]} on {fast["backend"]}, takes '
                               f'{fast["latency_p50_ms"]:.3f} ms > {max_latency_ms:g} ms')
    if max_latency_ms is not None and not reasons:
        fastest = min(rows, key=_order)
        reasons.append(f'the fastest row, {fastest["variant"]} on {fastest["backend"]}, takes '
                       f'{fastest["latency_p50_ms"]:.3f} ms > {max_latency_ms:g} ms')
    return (f'none qualifies: no row{where} meets {limits}: {"; ".join(reasons)}. '
            f'Relax a limit, or try another backend or variant')


def row_for(report: Report, precision: str, backend: Optional[str] = None) -> Optional[Row]:
    """Return the row of ``precision`` (on ``backend`` when given), or None.

    With several rows of that precision, a variant named like the precision wins, then the
    fastest.
    """
    rows = [r for r in _select(report, backend) if r['precision'] == precision]
    if not rows:
        return None
    return min(rows, key=lambda r: (r['variant'] != precision, _order(r)))


def accuracy_for(report: Report, precision: str,
                 backend: Optional[str] = None) -> Optional[float]:
    """Return the measured accuracy of ``precision`` (for the node's diagnostics), or None."""
    row = row_for(report, precision, backend)
    if row is None or not _finite(row['accuracy']):
        return None
    return float(row['accuracy'])
