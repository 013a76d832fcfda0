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

"""The trade-off report as a fixed-width text table (``benchmark precision`` prints it).

One line per row: lever, latency, throughput, memory, the file's size (raw and zlib -9),
its parameters and their non-zero share, the accuracy metric and the agreement with the
reference. Rows on the Pareto front are starred; rows whose zero weights their backend runs
densely are marked ``!``, and the report's caveats follow the table.
"""

from typing import Any
from typing import List

from accel_ai_ros.precision_report import pareto_front
from accel_ai_ros.precision_report import Report
from accel_ai_ros_tools.tradeoff.levers import report_caveats
from accel_ai_ros_tools.tradeoff.levers import zeros_run_dense


def fmt(value: Any, digits: int = 3) -> str:
    """Return ``value`` with ``digits`` decimals (floats), as text, or 'n/a' for None."""
    if value is None:
        return 'n/a'
    return f'{value:.{digits}f}' if isinstance(value, float) else str(value)


def _kb(value: Any) -> str:
    return 'n/a' if not isinstance(value, int) else fmt(value / 1024.0, 1)


def _nonzero(row: Any) -> str:
    params, nonzero = row.get('parameters'), row.get('nonzero_parameters')
    if not isinstance(params, int) or not isinstance(nonzero, int) or params <= 0:
        return 'n/a'
    return f'{100.0 * nonzero / params:.1f}%'


def format_table(report: Report) -> str:
    """Return the report's rows as a fixed-width text table, Pareto rows starred."""
    front = {id(r) for r in pareto_front(report['rows'])}
    metric = report['rows'][0]['accuracy_metric'] if report['rows'] else 'accuracy'
    head = ['', 'variant', 'lever', 'prec', 'backend', 'p50 ms', 'p95 ms', 'p99 ms', 'fps',
            'infer p50', 'infer fps', 'peak MB', 'params', 'nonzero', 'size KB', 'zlib KB',
            metric, 'agreement']
    lines: List[List[str]] = [head]
    dense = False
    for r in report['rows']:
        agreement = ', '.join(f'{k} {fmt(v, 6 if k == "output_cosine" else 4)}'
                              for k, v in r['agreement'].items())
        mark = ('*' if id(r) in front else '') + ('!' if zeros_run_dense(r) else '')
        dense = dense or zeros_run_dense(r)
        lines.append([mark, r['variant'], str(r.get('lever', 'n/a')), r['precision'],
                      r['backend'], fmt(r['latency_p50_ms']), fmt(r['latency_p95_ms']),
                      fmt(r['latency_p99_ms']), fmt(r['throughput_fps'], 1),
                      fmt(r['infer_p50_ms']), fmt(r['infer_throughput_fps'], 1),
                      fmt(r['peak_memory_mb'], 1), fmt(r.get('parameters')), _nonzero(r),
                      _kb(r['size_bytes']), _kb(r.get('size_compressed_bytes')),
                      fmt(r['accuracy'], 4), agreement])
    widths = [max(len(line[i]) for line in lines) for i in range(len(head) - 1)]
    text = ['  '.join(c.ljust(w) for c, w in zip(line, widths)) + '  ' + line[-1]
            for line in lines]
    notes = [f'(* on the Pareto front of latency p50 against {metric})']
    if dense:
        notes.append('(! zero weights that this backend stores and multiplies densely: not '
                     'faster than dense)')
    caveats = report.get('caveats')
    if caveats is None:
        caveats = report_caveats(report['rows'])
    notes += [f'note: {c}' for c in caveats]
    return '\n'.join(t.rstrip() for t in text + notes)
