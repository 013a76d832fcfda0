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

"""``benchmark triton``: what a Triton server costs against local ONNX Runtime.

Two measurements in one run, on one ONNX model that the server also serves (give its URL):

1. **Overhead per frame**, one client: the same input tensor through local ONNX Runtime, through
   Triton over the wire (gRPC or HTTP, as the URL says) and through Triton with system shared
   memory; rounds are interleaved so that machine load hits every path alike. Figures are the
   runner's ``infer`` call (the node's inference stage), p50 and p99 in milliseconds.
2. **Several clients**: N client processes against the one server, then N processes each with
   its own local ONNX Runtime session, every client asking for one frame per period
   (``--rate`` Hz). Per client: frames done, frames lost (a frame's slot passed while the
   previous request was still running: the node's latest-wins slot drops it), p50 and p99.

The clients are runner processes (the node's inference path without DDS), so the figures are
the backend's and not the camera transport's. Start a server first (``tritonserver
--model-repository DIR``; docs/triton.md shows how to run the bundled one in pytriton).
"""

import argparse
import json
import os
import subprocess
import sys
import time
from typing import Any
from typing import Dict
from typing import List
from typing import Optional
from typing import Sequence

import numpy as np

from accel_ai_ros.errors import AccelAiError
from accel_ai_ros.stats import summarize
from accel_ai_ros.subprocesses import stop_process


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add this benchmark's options."""
    parser.add_argument('--onnx', required=True, help='the ONNX model, run locally')
    parser.add_argument('--url', required=True,
                        help='the same model on the server: triton://127.0.0.1:8001/name/1')
    parser.add_argument('--rounds', type=int, default=10, help='interleaved rounds (overhead)')
    parser.add_argument('--per-round', type=int, default=30, help='calls per path per round')
    parser.add_argument('--clients', default='1,4',
                        help='client counts to compare, comma-separated (default: %(default)s)')
    parser.add_argument('--rate', type=float, default=30.0, help='frames per second per client')
    parser.add_argument('--duration', type=float, default=10.0, help='seconds per client run')
    parser.add_argument('--local-threads', type=int, default=1,
                        help='ONNX Runtime threads of the local runners; serve the model with as '
                             'many for a fair comparison (default: %(default)s)')
    parser.add_argument('--probe-onnx', help='a model with the same input that computes next '
                        'to nothing (write_probe): its overhead table is the transport alone')
    parser.add_argument('--probe-url', help='the probe model on the server')
    parser.add_argument('--unbatched-url', help='the same model served without dynamic '
                        'batching (max_batch_size 0): the client runs are repeated against it, '
                        'showing what dynamic batching buys when --url batches')
    parser.add_argument('--params-file', help="the node's parameter file (preprocessing, "
                        'task); with it, N inference node processes are also measured: frames '
                        'published at --rate to each, receipt-to-publish latency per node')
    parser.add_argument('--json', help='also write the figures to this JSON file')


def write_probe(onnx_path: str, out_path: str) -> str:
    """Write a model taking ``onnx_path``'s first input and returning its mean per channel.

    Its inference costs microseconds, so its overhead table shows what each path adds for
    moving that input alone (the output is a few bytes).
    """
    import onnx
    from onnx import helper
    model = onnx.load(onnx_path)
    initializers = {t.name for t in model.graph.initializer}
    value = next(v for v in model.graph.input if v.name not in initializers)
    tensor = value.type.tensor_type
    dims = [d.dim_value if d.HasField('dim_value') else 1 for d in tensor.shape.dim]
    axes = list(range(2, len(dims)))
    graph = helper.make_graph(
        [helper.make_node('ReduceMean', [value.name], ['mean'], axes=axes, keepdims=1)],
        'probe', [helper.make_tensor_value_info(value.name, tensor.elem_type, dims)],
        [helper.make_tensor_value_info('mean', tensor.elem_type,
                                       dims[:2] + [1] * len(axes))])
    probe = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 13)])
    probe.ir_version = 8
    onnx.save(probe, out_path)
    return out_path


def _feed(runner: Any) -> Dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {i.name: rng.standard_normal([d if isinstance(d, int) else 1 for d in i.shape])
            .astype(i.dtype) for i in runner.inputs()}


def _runner(kind: str, onnx: str, url: str, threads: int) -> Any:
    from accel_ai_ros.backends.base import activated
    if kind == 'local':
        from accel_ai_ros.backends.onnxruntime.runner import OnnxRuntimeRunner
        return activated(OnnxRuntimeRunner(onnx, intra_op_threads=threads))
    from accel_ai_ros.backends.triton.runner import TritonRunner
    return activated(TritonRunner(url, shared_memory='system' if kind == 'shm' else 'off'))


def measure_overhead(args: argparse.Namespace, model: str,
                     url: str) -> Dict[str, Dict[str, float]]:
    """Interleave local, wire and shared-memory calls on one tensor; return their summaries."""
    runners = {kind: _runner(kind, model, url, args.local_threads)
               for kind in ('local', 'wire', 'shm')}
    feed = _feed(runners['local'])
    samples: Dict[str, List[float]] = {kind: [] for kind in runners}
    try:
        for _ in range(args.rounds):
            for kind, runner in runners.items():
                for _ in range(args.per_round):
                    start = time.perf_counter()
                    runner.infer(feed)
                    samples[kind].append((time.perf_counter() - start) * 1e3)
    finally:
        for runner in runners.values():
            runner.deactivate()
    return {kind: summarize(values) for kind, values in samples.items()}


def client_main(kind: str, onnx: str, url: str, rate: float, duration: float,
                threads: int) -> Dict[str, Any]:
    """One client: a frame every 1/rate s for ``duration`` s; latencies and lost frames."""
    runner = _runner(kind, onnx, url, threads)
    feed = _feed(runner)
    period = 1.0 / rate
    latencies: List[float] = []
    lost = 0
    try:
        start = time.monotonic() + 0.5
        slot = 0
        total = int(duration * rate)
        while slot < total:
            due = start + slot * period
            now = time.monotonic()
            if now < due:
                time.sleep(due - now)
            elif now - due >= period:  # a newer frame replaced this one while we were busy
                skipped = min(int((now - due) / period), total - slot)
                lost += skipped
                slot += skipped
                continue
            began = time.perf_counter()
            runner.infer(feed)
            latencies.append((time.perf_counter() - began) * 1e3)
            slot += 1
    finally:
        runner.deactivate()
    summary = summarize(latencies)
    return {'done': len(latencies), 'lost': lost, 'p50': summary['p50'], 'p99': summary['p99'],
            'fps': len(latencies) / duration}


def run_clients(args: argparse.Namespace, kind: str, url: str,
                count: int) -> List[Dict[str, Any]]:
    """Start ``count`` client processes of ``kind`` together; return their figures."""
    command = [sys.executable, '-m', 'accel_ai_ros_tools.bench_triton', '--client', kind,
               args.onnx, url, str(args.rate), str(args.duration), str(args.local_threads)]
    procs = [subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
             for _ in range(count)]
    results = []
    for proc in procs:
        out, _ = proc.communicate(timeout=args.duration + 120)
        if proc.returncode != 0:
            raise AccelAiError(f'a {kind} client exited with {proc.returncode}; its error is '
                               'printed above')
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


def run(args: argparse.Namespace) -> int:
    """Measure and print both tables."""
    figures: Dict[str, Any] = {'machine': f'{os.cpu_count()} CPUs', 'onnx': args.onnx,
                               'url': args.url}
    names = {'local': 'local ONNX Runtime', 'wire': 'Triton, tensors on the wire',
             'shm': 'Triton, system shared memory'}
    tables = [('overhead', args.onnx, args.url, 'per-frame inference, one client')]
    if args.probe_onnx and args.probe_url:
        tables.append(('transport', args.probe_onnx, args.probe_url,
                       'the same input through a model that computes next to nothing'))
    for key, model, url, title in tables:
        overhead = measure_overhead(args, model, url)
        figures[key] = overhead
        local = overhead['local']['p50']
        print(f'{title} ({args.rounds} x {args.per_round} calls each):')
        print(f'  {"path":<28}{"p50 ms":>9}{"p99 ms":>9}{"+p50 ms":>9}')
        for kind, summary in overhead.items():
            print(f'  {names[kind]:<28}{summary["p50"]:9.2f}{summary["p99"]:9.2f}'
                  f'{summary["p50"] - local:9.2f}')
    figures['clients'] = {}
    runs = [('shm', args.url, 'Triton (shared memory)')]
    if args.unbatched_url:
        runs[0] = ('shm', args.url, 'Triton (shared memory, dynamic batching)')
        runs.append(('shm', args.unbatched_url, 'Triton (shared memory, no batching)'))
    runs.append(('local', args.url, 'local ONNX Runtime'))
    for count in [int(c) for c in args.clients.split(',') if c.strip()]:
        for index, (kind, url, label) in enumerate(runs):
            results = run_clients(args, kind, url, count)
            figures['clients'][f'{kind}{"_unbatched" if index == 1 and len(runs) == 3 else ""}'
                               f'x{count}'] = results
            print(f'{count} client(s), {label}, {args.rate:g} Hz each for {args.duration:g} s:')
            for number, r in enumerate(results):
                print(f'  client {number}: {r["done"]} done, {r["lost"]} lost, '
                      f'{r["fps"]:.1f} fps, p50 {r["p50"]:.2f} ms, p99 {r["p99"]:.2f} ms')
    if args.params_file:
        figures['nodes'] = {}
        for count in [int(c) for c in args.clients.split(',') if c.strip()]:
            for label, engine in (('Triton (shared memory)', args.url),
                                  ('local ONNX Runtime', args.onnx)):
                results = measure_nodes(args, count, engine if engine == args.url
                                        else os.path.abspath(engine))
                figures['nodes'][f'{"triton" if engine == args.url else "local"}x{count}'] = \
                    results
                print(f'{count} node process(es), {label}, {args.rate:g} Hz each for '
                      f'{args.duration:g} s (receipt to publish):')
                for number, r in enumerate(results):
                    print(f'  node {number}: {r["done"]} of {r["sent"]} frames, '
                          f'p50 {r["p50"]:.2f} ms, p99 {r["p99"]:.2f} ms')
    if args.json:
        with open(args.json, 'w', encoding='utf-8') as out:
            json.dump(figures, out, indent=2)
    return 0


def measure_nodes(args: argparse.Namespace, count: int, engine: str) -> List[Dict[str, Any]]:
    """Run ``count`` inference node processes on ``engine``; stream frames to each.

    Each node gets ``--rate`` frames per second (320x240 rgb8) for ``--duration`` s from this
    process; its ``~/latency`` messages (receipt to publish) are the figures, and frames sent
    without a latency message are the ones it lost (dropped or failed).
    """
    import signal
    import threading

    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import Image
    from std_msgs.msg import Float32

    from accel_ai_ros_tools.environment import configure_dds_environment
    configure_dds_environment()
    tag = f'/bench_triton_{os.getpid()}_{count}_{int(time.monotonic() * 1e3) % 100000}'
    names = [f'{tag}_{i}' for i in range(count)]
    procs = [subprocess.Popen(
        [sys.executable, '-m', 'accel_ai_ros.startup', '--ros-args', '--params-file',
         args.params_file, '-r', f'__ns:={ns}', '-p', f'engines.fp32:={engine}',
         '-p', 'precision:=fp32', '-p', 'backend:=auto',
         # A local node gets as many ONNX Runtime threads as the served model.
         '-p', f'intra_op_threads:={args.local_threads}'],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for ns in names]
    context = rclpy.Context()
    rclpy.init(context=context)
    node = rclpy.create_node('bench_triton_cameras', context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    latencies: Dict[str, List[float]] = {ns: [] for ns in names}
    lock = threading.Lock()

    def keep(ns: str) -> Any:
        def on_msg(msg: Any) -> None:
            with lock:
                latencies[ns].append(float(msg.data))
        return on_msg
    subs = [node.create_subscription(Float32, f'{ns}/inference_node/latency', keep(ns), 100)
            for ns in names]
    pubs = [node.create_publisher(Image, f'{ns}/image', qos_profile_sensor_data)
            for ns in names]
    spinner = threading.Thread(target=lambda: executor.spin(), daemon=True)
    spinner.start()
    frame = np.random.default_rng(0).integers(0, 255, (240, 320, 3), dtype=np.uint8)
    msg = Image(height=240, width=320, encoding='rgb8', step=960, data=frame.tobytes())
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # until every node answered a warm-up frame
            with lock:
                if all(latencies[ns] for ns in names):
                    break
            for pub in pubs:
                pub.publish(msg)
            time.sleep(0.2)
        else:
            raise AccelAiError('the inference nodes did not answer within 120 s')
        time.sleep(0.5)
        with lock:
            for values in latencies.values():
                values.clear()
        period = 1.0 / args.rate
        total = int(args.duration * args.rate)
        start = time.monotonic()
        for slot in range(total):
            delay = start + slot * period - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            for pub in pubs:
                pub.publish(msg)
        time.sleep(1.0)
        with lock:
            taken = {ns: list(values) for ns, values in latencies.items()}
    finally:
        for proc in procs:
            stop_process(proc, timeout_s=30.0, sig=signal.SIGINT)
        executor.shutdown()
        del subs
        node.destroy_node()
        rclpy.try_shutdown(context=context)
    results = []
    for ns in names:
        summary = summarize(taken[ns])
        results.append({'sent': total, 'done': len(taken[ns]), 'p50': summary['p50'],
                        'p99': summary['p99']})
    return results


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry for the client processes (``--client KIND ONNX URL RATE DURATION THREADS``)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] != ['--client'] or len(argv) != 7:
        print('usage: benchmark triton ...', file=sys.stderr)
        return 2
    kind, onnx, url, rate, duration, threads = argv[1:]
    print(json.dumps(client_main(kind, onnx, url, float(rate), float(duration), int(threads))))
    return 0


if __name__ == '__main__':
    sys.exit(main())
