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

"""``benchmark adaptive``: deadline misses with adaptive precision off and on.

A node process serves two precisions of a classifier while this process streams frames to it
through three phases: idle, heavy (CPU-burning processes pinned to the node's CPU), idle.
It runs once with ``adaptive_precision`` off and once on, and reports per run: frames sent,
results, deadline misses (results later than the budget plus frames without a result), the
latency percentiles, the agreement of what ran with the FP32 model (top-1 per frame, computed
here with the node's own preprocessing), and the precision timeline; then a plot.

The models are stand-ins built here, because on a CPU an FP16 model is no faster than FP32:
'fp32' is a 3-layer 64-channel convolutional net on a 96x96 input, 'fp16' the same weights
on a 64x64 input (about half the cost), so that the two differ in cost and their outputs can
be compared.
"""

import argparse
from dataclasses import dataclass
from dataclasses import field
import json
import os
from pathlib import Path
import subprocess
import sys
import threading
import time
from typing import Any
from typing import Dict
from typing import List
from typing import Optional
from typing import Tuple

import numpy as np
import onnx
from onnx import helper
from onnx import numpy_helper
from onnx import TensorProto

from accel_ai_ros.errors import AccelAiError
from accel_ai_ros.stats import summarize
from accel_ai_ros.subprocesses import stop_process
from accel_ai_ros_tools.bench_latency import machine
from accel_ai_ros_tools.environment import configure_dds_environment
from accel_ai_ros_tools.frame_sources import make_source
from accel_ai_ros_tools.variants.onnx_fixes import with_min_ir_version

PRECISIONS = ('fp32', 'fp16')
#: A process that keeps the GPU busy with half-precision matrix products.
GPU_BURNER = ('import torch\n'
              'a = torch.randn(8192, 8192, device="cuda", dtype=torch.float16)\n'
              'while True:\n'
              '    [a @ a for _ in range(20)]\n'
              '    torch.cuda.synchronize()\n')


def costly_classifier(path: Path, size: int, channels: int = 64, layers: int = 3,
                      num_classes: int = 10, seed: int = 0) -> Path:
    """Write a classifier of ``layers`` 3x3 convolutions on a ``size`` x ``size`` input.

    The weights depend only on ``seed``, ``channels`` and ``layers``, not on ``size``: two
    sizes give the same network at two costs (the cost grows with ``size**2``).
    """
    rng = np.random.default_rng(seed)
    inits: List[onnx.TensorProto] = []
    nodes: List[onnx.NodeProto] = []

    def weights(name: str, shape: Tuple[int, ...]) -> None:
        values = (rng.standard_normal(shape) * 0.1).astype(np.float32)
        inits.append(numpy_helper.from_array(values, name))

    previous, width = 'input', 3
    for i in range(layers):
        weights(f'conv{i}.weight', (channels, width, 3, 3))
        weights(f'conv{i}.bias', (channels,))
        nodes += [helper.make_node('Conv', [previous, f'conv{i}.weight', f'conv{i}.bias'],
                                   [f'conv{i}'], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
                  helper.make_node('Relu', [f'conv{i}'], [f'relu{i}'])]
        previous, width = f'relu{i}', channels
    weights('fc.weight', (num_classes, width))
    weights('fc.bias', (num_classes,))
    nodes += [helper.make_node('GlobalAveragePool', [previous], ['pool']),
              helper.make_node('Flatten', ['pool'], ['flat'], axis=1),
              helper.make_node('Gemm', ['flat', 'fc.weight', 'fc.bias'], ['logits'], transB=1)]
    graph = helper.make_graph(
        nodes, 'costly_classifier',
        [helper.make_tensor_value_info('input', TensorProto.FLOAT, [1, 3, size, size])],
        [helper.make_tensor_value_info('logits', TensorProto.FLOAT, [1, num_classes])], inits)
    model = with_min_ir_version(helper.make_model(
        graph, opset_imports=[helper.make_opsetid('', 13)], producer_name='accel_ai_ros'))
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def pin_to(cpu: int) -> Any:
    """Return a ``preexec_fn`` that pins the child process to ``cpu``."""
    return lambda: os.sched_setaffinity(0, {cpu})


def top1_per_frame(values: Dict[str, Any], precision: str,
                   frames: List[np.ndarray]) -> List[str]:
    """Return the class id the node would publish first for each frame, at ``precision``."""
    from accel_ai_ros.engines.selection import loader_for
    from accel_ai_ros.frame_processor import FrameProcessor
    from accel_ai_ros.frame_processor import ProcessingSettings
    from accel_ai_ros.image_codec import DecodedImage
    runner = loader_for(values, precision)()
    try:
        processor = FrameProcessor(ProcessingSettings.from_params(values))
        out = []
        for frame in frames:
            result = processor.process(DecodedImage(frame, 'bgr'), runner)
            best = result.classes[0]
            out.append(best.label or str(int(best.class_id)))
        return out
    finally:
        runner.deactivate()


def idle_cost_ms(path: Path, cpu: int, size: int, quantile: float = 50.0) -> float:
    """Return the ``quantile`` of 20 single-thread inference times of ``path`` on ``cpu``, ms.

    A low quantile is the model's own cost on a shared machine (other processes only ever
    make a run slower); the median is what it costs now.
    """
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=['CPUExecutionProvider'])
    feed = {'input': np.random.default_rng(0).random((1, 3, size, size), dtype=np.float32)}
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {cpu})
    try:
        times = []
        for _ in range(25):
            start = time.perf_counter()
            session.run(None, feed)
            times.append((time.perf_counter() - start) * 1e3)
    finally:
        os.sched_setaffinity(0, before)
    return float(np.percentile(times[5:], quantile))


@dataclass
class RunResult:
    """What one run measured; times in seconds from the first frame."""

    adaptive: bool
    sent: Dict[int, float] = field(default_factory=dict)           # frame index -> send time
    latency_ms: Dict[int, float] = field(default_factory=dict)     # frame index -> latency
    agrees: Dict[int, bool] = field(default_factory=dict)          # frame index -> top-1 ok
    timeline: List[Tuple[float, str]] = field(default_factory=list)
    counters: Dict[str, str] = field(default_factory=dict)
    decisions: List[str] = field(default_factory=list)

    def summary(self, budget_ms: float, heavy: Tuple[float, float]) -> Dict[str, Any]:
        """Return the run's figures."""
        sent = len(self.sent)
        late = sum(1 for ms in self.latency_ms.values() if ms > budget_ms)
        missing = sent - len(self.latency_ms)
        in_heavy = [i for i, t in self.sent.items() if heavy[0] <= t < heavy[1]]
        heavy_late = sum(1 for i in in_heavy
                         if i not in self.latency_ms or self.latency_ms[i] > budget_ms)
        lat = summarize(list(self.latency_ms.values()))
        heavy_lat = summarize([self.latency_ms[i] for i in in_heavy if i in self.latency_ms])
        return {
            'adaptive_precision': self.adaptive, 'frames_sent': sent,
            'results': len(self.latency_ms), 'without_result': missing,
            'deadline_misses': late + missing,
            'deadline_miss_pct': 100.0 * (late + missing) / max(1, sent),
            'heavy_phase_misses': heavy_late, 'heavy_phase_frames': len(in_heavy),
            'latency_p50_ms': lat['p50'], 'latency_p99_ms': lat['p99'],
            'heavy_latency_p50_ms': heavy_lat['p50'], 'heavy_latency_p99_ms': heavy_lat['p99'],
            'agreement_with_fp32_pct': 100.0 * sum(self.agrees.values()) / len(self.agrees)
            if self.agrees else None,
            'precision_timeline': [(round(t, 2), p) for t, p in self.timeline],
            'node_counters': self.counters, 'decisions': self.decisions,
        }


def run_once(args: argparse.Namespace, ros_args: List[str], adaptive: bool,
             frames: List[np.ndarray], reference: List[str], budget_ms: float,
             log_path: Path, task: str = 'classification') -> RunResult:
    """Start a node, stream the three phases, stop everything; return what was seen."""
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import DurabilityPolicy
    from rclpy.qos import QoSProfile
    from rclpy.qos import ReliabilityPolicy
    from sensor_msgs.msg import Image
    from std_msgs.msg import String

    from accel_ai_ros.messages import DiagnosticArray
    from accel_ai_ros.tasks.registry import task_named
    result = RunResult(adaptive)
    ns = f'/bench_adaptive_{os.getpid()}_{int(adaptive)}'
    lock = threading.Lock()
    t0 = [0.0]
    with log_path.open('w') as log:
        node = subprocess.Popen(
            [sys.executable, '-m', 'accel_ai_ros.node'] + ros_args +
            ['-r', f'__ns:={ns}', '-p', f'adaptive_precision:={str(adaptive).lower()}',
             '-p', f'latency_budget_ms:={budget_ms}'],
            stdout=log, stderr=subprocess.STDOUT, preexec_fn=pin_to(args.cpu))
    context = rclpy.Context()
    rclpy.init(context=context)
    helper_node = rclpy.create_node('bench_adaptive', context=context)
    burners: List[subprocess.Popen] = []
    reliable = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
    latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                         durability=DurabilityPolicy.TRANSIENT_LOCAL)

    def on_result(msg: Any) -> None:
        now = time.monotonic()
        index = int(msg.header.frame_id) if msg.header.frame_id.isdigit() else -1
        with lock:
            if index in result.sent:
                result.latency_ms[index] = (now - t0[0] - result.sent[index]) * 1e3
                if reference:
                    result.agrees[index] = bool(msg.results) and \
                        msg.results[0].class_id == reference[index % len(reference)]

    def on_precision(msg: String) -> None:
        with lock:
            result.timeline.append((time.monotonic() - t0[0] if t0[0] else 0.0, msg.data))

    def on_diag(msg: Any) -> None:
        for status in msg.status:
            if status.name.startswith(f'{ns}/'):
                with lock:
                    result.counters = {kv.key: kv.value for kv in status.values}

    result_type = task_named(task).message_type()
    if result_type is None:
        raise AccelAiError(f'task {task!r} publishes no ~/results: the bench times results')
    helper_node.create_subscription(result_type, f'{ns}/inference_node/results',
                                    on_result, reliable)
    helper_node.create_subscription(String, f'{ns}/inference_node/precision', on_precision,
                                    latched)
    helper_node.create_subscription(DiagnosticArray, '/diagnostics', on_diag, reliable)
    publisher = helper_node.create_publisher(Image, f'{ns}/image', reliable)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(helper_node)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    try:
        end = time.monotonic() + 60.0
        while (publisher.get_subscription_count() == 0 or not result.timeline) \
                and time.monotonic() < end:
            if node.poll() is not None:
                raise AccelAiError(f'the node exited; see {log_path}')
            time.sleep(0.1)
        time.sleep(1.0)
        messages = [_image(frame) for frame in frames]
        period = 1.0 / args.rate
        phases = (args.idle_s, args.idle_s + args.heavy_s, 2 * args.idle_s + args.heavy_s)
        t0[0] = time.monotonic()
        with lock:
            result.timeline = [(0.0, result.timeline[-1][1])]
        index = 0
        while True:
            now = time.monotonic() - t0[0]
            if now >= phases[2]:
                break
            if phases[0] <= now < phases[1] and not burners:
                burners = [subprocess.Popen([sys.executable, '-c', GPU_BURNER])
                           if args.gpu_burner else
                           subprocess.Popen([sys.executable, '-c', 'while True: pass'],
                                            preexec_fn=pin_to(args.cpu))
                           for _ in range(args.burners)]
            if now >= phases[1] and burners:
                _stop(burners)
                burners = []
            msg = messages[index % len(messages)]
            msg.header.frame_id = str(index)
            msg.header.stamp = helper_node.get_clock().now().to_msg()
            with lock:
                result.sent[index] = time.monotonic() - t0[0]
            publisher.publish(msg)
            index += 1
            time.sleep(max(0.0, t0[0] + index * period - time.monotonic()))
        time.sleep(3.0)
    finally:
        _stop(burners)
        stop_process(node)
        executor.shutdown()
        helper_node.destroy_node()
        rclpy.try_shutdown(context=context)
    result.decisions = [line.split(']: ', 1)[-1] for line in log_path.read_text().splitlines()
                        if 'adaptive precision: ' in line]
    return result


def _percent(value: Optional[float]) -> str:
    return 'not measured' if value is None else f'{value:.1f}%'


def _image(frame: np.ndarray) -> Any:
    from sensor_msgs.msg import Image

    from accel_ai_ros_tools.image_source import fill_image
    return fill_image(Image(), frame, 'bgr8')


def _stop(processes: List[subprocess.Popen]) -> None:
    for process in processes:
        process.kill()
    for process in processes:
        process.wait()


def plot(results: List[RunResult], budget_ms: float, heavy: Tuple[float, float],
         path: Path) -> Optional[Path]:
    """Draw per-frame latency and the precision timeline of each run; None without matplotlib."""
    try:
        import matplotlib
        matplotlib.use('Agg')
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, axes = plt.subplots(len(results), 1, figsize=(10, 3.2 * len(results)), sharex=True,
                             squeeze=False)
    colours = {'fp32': 'tab:blue', 'fp16': 'tab:orange', 'int8': 'tab:green'}
    for ax, run in zip(axes[:, 0], results):
        ax.axvspan(heavy[0], heavy[1], color='0.9', label='CPU burners running')
        ax.axhline(budget_ms, color='red', linewidth=1, label=f'budget {budget_ms:g} ms')
        spans = run.timeline + [(heavy[1] + heavy[0] + 5.0, '')]
        for (start, precision), (stop, _) in zip(spans, spans[1:]):
            idx = [i for i, t in run.sent.items() if start <= t < stop and i in run.latency_ms]
            ax.scatter([run.sent[i] for i in idx], [run.latency_ms[i] for i in idx], s=6,
                       color=colours.get(precision, 'black'), label=precision)
        lost = [t for i, t in run.sent.items() if i not in run.latency_ms]
        ax.scatter(lost, [budget_ms * 2.5] * len(lost), marker='x', color='red', s=12,
                   label='no result')
        handles, labels = ax.get_legend_handles_labels()
        unique = dict(zip(labels, handles))
        ax.legend(unique.values(), unique.keys(), loc='upper right', fontsize=8)
        ax.set_ylabel('latency ms')
        ax.set_ylim(0, budget_ms * 3)
        ax.set_title(f'adaptive_precision: {"on" if run.adaptive else "off"}')
    axes[-1, 0].set_xlabel('time s')
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the adaptive benchmark's options to ``parser``."""
    parser.add_argument('--output-dir', default='reports/adaptive',
                        help='where the models, logs, results.json and adaptive.png go')
    parser.add_argument('--idle-s', type=float, default=10.0, help='each idle phase, s')
    parser.add_argument('--heavy-s', type=float, default=20.0, help='the heavy phase, s')
    parser.add_argument('--rate', type=float, default=15.0, help='frames per second')
    parser.add_argument('--burners', type=int, default=1,
                        help='CPU-burning processes in the heavy phase, on the node CPU (one '
                             'about doubles FP32 latency)')
    parser.add_argument('--cpu', type=int, default=-1,
                        help='CPU the node and the burners are pinned to (default: the last)')
    parser.add_argument('--budget-ms', type=float, default=0.0,
                        help='latency budget (0: 1.75 x the idle FP32 inference time, its '
                             '10th percentile on the node CPU, + 2 ms: between FP32 idle and '
                             'FP32 under a load that doubles it)')
    parser.add_argument('--modes', default='off,on', help='adaptive_precision runs, in order')
    parser.add_argument('--params-file', default='',
                        help='run these engines (with fp32 and fp16 configured) instead of the '
                             'stand-ins; the budget then comes from --budget-ms or from the '
                             'first (off) run: 1.75 x its idle-phase p50 + 1 ms')
    parser.add_argument('--model-dir', default='', help='model_dir for --params-file')
    parser.add_argument('--gpu-burner', action='store_true',
                        help='burn the GPU (PyTorch half-precision matrix products) instead of '
                             'the node CPU')
    parser.add_argument('--min-dwell-s', type=float, default=5.0,
                        help='adaptive_min_dwell_s of the node')
    parser.add_argument('--breach-window-s', type=float, default=1.0,
                        help='adaptive_breach_window_s of the node (the other adaptive_* '
                             'parameters keep their defaults)')


def run(args: argparse.Namespace) -> int:
    """Run the benchmark; print and save the figures; 0 when every run got results."""
    if not hasattr(os, 'sched_setaffinity'):
        raise AccelAiError('benchmark adaptive pins processes to a CPU: Linux only')
    if args.rate <= 0 or args.idle_s <= 0 or args.heavy_s <= 0 or args.burners < 1:
        raise AccelAiError('--rate, --idle-s and --heavy-s must be > 0, --burners >= 1')
    if args.cpu < 0:
        args.cpu = max(os.sched_getaffinity(0))
    modes = [m.strip() for m in args.modes.split(',') if m.strip()]
    if not modes or any(m not in ('off', 'on') for m in modes):
        raise AccelAiError(f'--modes takes off and on, comma-separated; got {args.modes!r}')
    configure_dds_environment()
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    host = machine()
    adaptive_args = ['-p', f'adaptive_min_dwell_s:={args.min_dwell_s}',
                     '-p', f'adaptive_breach_window_s:={args.breach_window_s}',
                     '-p', 'diagnostics_period_s:=0.5']
    source = iter(make_source('digits', '', 160, 120))
    frames = [next(source)[0] for _ in range(60)]
    load = f'{args.burners} GPU burner(s)' if args.gpu_burner else \
        f'{args.burners} burner(s) on CPU {args.cpu}'
    print(f'benchmark adaptive: {host["system"]}, {host["cpus"]} CPUs, load average '
          f'{" ".join(str(v) for v in host["load_average"])}; node on CPU {args.cpu}, heavy '
          f'phase: {load}', flush=True)
    reference: List[str] = []
    idle: Dict[str, float] = {}
    fp16_agreement: Optional[float] = None
    budget = args.budget_ms
    task = 'classification'
    if args.params_file:
        from accel_ai_ros.params import values_from_file
        task = str(values_from_file(args.params_file)['task'])
        if not budget and modes[0] != 'off':
            raise AccelAiError('without --budget-ms the first run must be off (--modes off,on)')
        ros_args = ['--ros-args', '--params-file', args.params_file, '-p', 'precision:=fp32']
        ros_args += ['-p', f'model_dir:={args.model_dir}'] if args.model_dir else []
        ros_args += adaptive_args
    else:
        fp32 = costly_classifier(out / 'fp32.onnx', size=96)
        fp16 = costly_classifier(out / 'fp16.onnx', size=64)
        from accel_ai_ros.params import defaults
        values = defaults()
        values.update({'engines.fp32': str(fp32), 'engines.fp16': str(fp16),
                       'resize_mode': 'stretch', 'intra_op_threads': 1, 'top_k': 1})
        reference = top1_per_frame(values, 'fp32', frames)
        fp16_agreement = float(np.mean([a == b for a, b in zip(
            reference, top1_per_frame(values, 'fp16', frames))]))
        idle = {p: idle_cost_ms(path, args.cpu, size, quantile=10.0)
                for p, path, size in (('fp32', fp32, 96), ('fp16', fp16, 64))}
        budget = budget or round(1.75 * idle['fp32'] + 2.0, 1)
        print(f'idle inference on CPU {args.cpu} (p10 of 20): fp32 {idle["fp32"]:.2f} ms, '
              f'fp16 {idle["fp16"]:.2f} ms; fp16 top-1 agreement with fp32 on the '
              f'{len(frames)} bench frames {100 * fp16_agreement:.1f}% '
              f'({len(set(reference))} distinct fp32 top-1 classes); budget {budget:g} ms',
              flush=True)
        ros_args = ['--ros-args', '-p', f'engines.fp32:={fp32}', '-p', f'engines.fp16:={fp16}',
                    '-p', 'resize_mode:=stretch', '-p', 'intra_op_threads:=1',
                    '-p', 'top_k:=1'] + adaptive_args
    heavy = (args.idle_s, args.idle_s + args.heavy_s)
    results = []
    summaries = []
    for mode in modes:
        run_result = run_once(args, ros_args, mode == 'on', frames, reference, budget,
                              out / f'node_{mode}.log', task)
        results.append(run_result)
        if not budget:
            idle_ms = [ms for i, ms in run_result.latency_ms.items()
                       if run_result.sent[i] < heavy[0]]
            budget = round(1.75 * float(np.median(idle_ms)) + 1.0, 1) if idle_ms else 0.0
            print(f'budget {budget:g} ms: 1.75 x the idle-phase p50 of this run + 1 ms')
        summary = run_result.summary(budget, heavy)
        summaries.append(summary)
        print(f'\nadaptive_precision {mode}: {summary["frames_sent"]} frames, '
              f'{summary["results"]} results; deadline misses {summary["deadline_misses"]} '
              f'({summary["deadline_miss_pct"]:.1f}%), {summary["heavy_phase_misses"]} of '
              f'{summary["heavy_phase_frames"]} in the heavy phase; latency p50 '
              f'{summary["latency_p50_ms"]:.1f} ms, p99 {summary["latency_p99_ms"]:.1f} ms '
              f'(heavy phase p50 {summary["heavy_latency_p50_ms"]:.1f}, p99 '
              f'{summary["heavy_latency_p99_ms"]:.1f}); agreement with fp32 '
              f'{_percent(summary["agreement_with_fp32_pct"])}', flush=True)
        print('  precision timeline: ' + ', '.join(
            f'{t:.1f} s {p}' for t, p in summary['precision_timeline']))
        for line in summary['decisions']:
            print(f'  {line}')
        counters = run_result.counters
        print(f'  node: monitor cpu {counters.get("monitor cpu %", "?")} % of one core, '
              f'process cpu {counters.get("process cpu %", "?")} %, gpu: '
              f'{counters.get("gpu monitoring", "present")}')
    figure = plot(results, budget, heavy, out / 'adaptive.png')
    report = {'machine': host, 'idle_inference_ms': idle, 'budget_ms': budget,
              'fp16_agreement_with_fp32': fp16_agreement,
              'distinct_fp32_classes': len(set(reference)), 'burners': args.burners,
              'gpu_burner': args.gpu_burner, 'params_file': args.params_file,
              'phases_s': [args.idle_s, args.heavy_s, args.idle_s], 'rate_hz': args.rate,
              'runs': summaries}
    (out / 'results.json').write_text(json.dumps(report, indent=1))
    tail = f' and {figure}' if figure else ' (no plot: matplotlib is missing)'
    print(f'\nwrote {out / "results.json"}{tail}')
    return 0 if all(s['results'] > 0 for s in summaries) else 1
