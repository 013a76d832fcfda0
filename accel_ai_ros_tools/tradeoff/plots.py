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

"""PNG plots of a trade-off report: accuracy against latency p50 and against throughput.

Every (variant, backend) row is a labelled point, coloured by its lever (precision, pruning,
architecture) and shaped by its precision, so one chart compares all three levers; the
Pareto front is drawn as a line through its points, which are ringed. Points whose zero
weights the backend runs densely are hollow, and a footnote says that no speed-up from
their zeros is possible there: every position on the chart is a measured latency. Titles
name the accuracy metric, the machine and the backends. matplotlib (the ``bench`` extra) is
imported here only, with the Agg backend.
"""

from pathlib import Path
from typing import Any
from typing import Dict
from typing import List

from accel_ai_ros.errors import BackendUnavailableError
from accel_ai_ros.fileio import atomic_output
from accel_ai_ros.fileio import PathLike
from accel_ai_ros.precision_report import pareto_front
from accel_ai_ros.precision_report import Report
from accel_ai_ros_tools.tradeoff.levers import LEVERS
from accel_ai_ros_tools.tradeoff.levers import zeros_run_dense

AXES = {
    'latency_p50_ms': 'latency p50 per frame, ms (lower is better)',
    'throughput_fps': 'throughput, frames/s (higher is better)',
}

#: Colour of each lever's points.
LEVER_COLOURS = {'precision': 'tab:blue', 'pruning': 'tab:orange',
                 'architecture': 'tab:green', 'n/a': 'tab:gray'}
#: Marker of each precision.
PRECISION_MARKERS = {'fp32': 'o', 'fp16': 's', 'int8': '^'}

FILES = {
    'latency_p50_ms': 'accuracy_vs_latency.png',
    'throughput_fps': 'accuracy_vs_throughput.png',
}


def _pyplot():  # type: ignore[no-untyped-def]
    try:
        import matplotlib
    except ImportError as error:
        raise BackendUnavailableError(
            f'matplotlib is not importable ({error}); install it: pip install matplotlib '
            f'(the bench extra)') from None
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    return plt


def machine_line(report: Report) -> str:
    """Return 'CPU model (N cores), GPU, backends' for plot titles and tables."""
    machine = report.get('machine', {})
    text = f'{machine.get("cpu_model") or "unknown CPU"} ({machine.get("cores", "?")} cores)'
    if machine.get('gpu'):
        text += f', {machine["gpu"]}'
    backends = sorted({r['backend'] for r in report['rows']})
    return f'{text}; {", ".join(backends) or "no backend"}'


def _legend(rows: List[Dict[str, Any]], front: bool, dense: bool) -> List[Any]:
    """Return legend handles: one per lever and precision present, the front, hollow."""
    from matplotlib.lines import Line2D
    handles: List[Any] = []
    for lever in LEVERS:
        if any(r.get('lever') == lever for r in rows):
            handles.append(Line2D([], [], color=LEVER_COLOURS[lever], marker='o',
                                  linestyle='', label=f'lever: {lever}'))
    for precision, marker in PRECISION_MARKERS.items():
        if any(r['precision'] == precision for r in rows):
            handles.append(Line2D([], [], color='black', marker=marker, linestyle='',
                                  markerfacecolor='none', label=precision))
    if front:
        handles.append(Line2D([], [], color='tab:red', marker='o', linestyle='--',
                              markerfacecolor='none', markersize=12,
                              label='Pareto front (ringed, dashed)'))
    if dense:
        handles.append(Line2D([], [], color='tab:gray', marker='o', linestyle='',
                              markerfacecolor='none', label='zeros run densely'))
    return handles


def plot_tradeoff(report: Report, path: PathLike, x: str = 'latency_p50_ms') -> Path:
    """Write one PNG: accuracy against ``x`` with the Pareto front; return its path."""
    if x not in AXES:
        raise ValueError(f'x is {x!r}; choose one of {", ".join(AXES)}')
    plt = _pyplot()
    rows = [r for r in report['rows'] if r['accuracy'] is not None]
    metric = report['rows'][0]['accuracy_metric'] if report['rows'] else 'accuracy'
    front = pareto_front(rows, x=x, y='accuracy')
    fig, ax = plt.subplots(figsize=(10.0, 6.5), dpi=110)
    try:
        # Stagger the labels by rank so that points close together stay readable.
        ordered = sorted(rows, key=lambda r: (r[x], r['accuracy']))
        dense = False
        for rank, row in enumerate(ordered):
            colour = LEVER_COLOURS.get(str(row.get('lever', 'n/a')), 'tab:gray')
            hollow = zeros_run_dense(row)
            dense = dense or hollow
            ax.scatter(row[x], row['accuracy'], s=60, zorder=3, linewidths=1.5,
                       marker=PRECISION_MARKERS.get(row['precision'], 'D'),
                       facecolors='none' if hollow else colour, edgecolors=colour)
            ax.annotate(f'{row["variant"]} ({row["backend"]})', (row[x], row['accuracy']),
                        textcoords='offset points', xytext=(6, 6 - 11 * (rank % 4)),
                        fontsize=7)
        if front:
            ax.plot([r[x] for r in front], [r['accuracy'] for r in front], '--',
                    color='tab:red', zorder=2)
            ax.scatter([r[x] for r in front], [r['accuracy'] for r in front], s=180,
                       facecolors='none', edgecolors='tab:red', zorder=4)
        ax.legend(handles=_legend(rows, bool(front), dense), loc='best', fontsize=8)
        if dense:
            fig.text(0.01, -0.02, 'Hollow: zero weights that the backend stores and '
                     'multiplies densely (ONNX Runtime CPU): no speed-up from sparsity is '
                     'possible there;\ntheir positions are measured latencies, like every '
                     'point. Only channel pruning and architecture change the arithmetic.',
                     fontsize=8, va='top')
        ax.set_xlabel(AXES[x])
        ax.set_ylabel(f'{metric} (higher is better)')
        dataset = report.get('dataset', {}).get('name', '')
        ax.set_title(f'{metric} vs {x.split("_")[0]} on {dataset}\n{machine_line(report)}',
                     fontsize=10)
        ax.grid(True, alpha=0.3)
        ax.margins(x=0.25, y=0.15)
        final = Path(path)
        with atomic_output(final, suffix='.png') as tmp:
            fig.savefig(tmp, format='png', bbox_inches='tight')
    finally:
        plt.close(fig)
    return final


def write_plots(report: Report, output_dir: PathLike) -> List[Path]:
    """Write accuracy_vs_latency.png and accuracy_vs_throughput.png into ``output_dir``."""
    return [plot_tradeoff(report, Path(output_dir) / name, x) for x, name in FILES.items()]
