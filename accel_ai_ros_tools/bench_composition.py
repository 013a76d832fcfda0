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

"""``benchmark composition``: what composition saves, measured in one run.

``handoff``: 1920x1080 ``bgr8`` frames from ``image_source`` to the inference node (a) in one
process through the container's in-process hand-off, (b) in one process through DDS, (c) in
two processes through Fast DDS shared memory (the shipped profile), in interleaved rounds.
The figures are the node's own ``stamp_to_publish`` (from the frame's header stamp, taken
just before the source fills and publishes it, to the result's publication) and, per frame,
its transport part (stamp -> publish minus receipt -> publish).

``cameras``: N cameras (default 4 x 640x480 x 30 Hz, published by one other process) served
(a) by N inference nodes sharing one engine in one container process (``share_engine``),
(b) by N separate node processes, and (c) one camera by one node, the reference. Measured:
the node processes' memory (RSS and PSS, psutil), results per second and the latency from
frame stamp to the result's arrival at a subscriber in this process (p50, p99).
"""

import argparse
import json
import os
from pathlib import Path
import platform
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any
from typing import Dict
from typing import List
from typing import Optional
from typing import Sequence

from accel_ai_ros.errors import AccelAiError
from accel_ai_ros.params import read_params_file
from accel_ai_ros.stats import summarize
from accel_ai_ros.subprocesses import stop_process
from accel_ai_ros_tools.environment import configure_dds_environment
from accel_ai_ros_tools.environment import find_config

QUANTILES = (50.0, 90.0, 99.0)


def node_parameters(params_file: Path, model_dir: str, **extra: Any) -> Dict[str, Any]:
    """Return the flat ``ros__parameters`` of ``params_file`` plus ``model_dir`` and extra."""
    flat = read_params_file(params_file)
    flat['model_dir'] = model_dir
    flat.update(extra)
    return flat


def _load_request(plugin: str, name: str, namespace: str, params: Dict[str, Any],
                  intra: bool) -> Any:
    from composition_interfaces.srv import LoadNode
    from rclpy.parameter import Parameter
    request = LoadNode.Request()
    request.package_name = 'accel_ai_ros'
    request.plugin_name = plugin
    request.node_name = name
    request.node_namespace = namespace
    request.parameters = [Parameter(k, value=v).to_parameter_msg() for k, v in params.items()]
    if intra:
        request.extra_arguments = [
            Parameter('use_intra_process_comms', value=True).to_parameter_msg()]
    return request


def spin_until_shutdown(executor: Any, context: Any) -> None:
    """Spin ``executor`` until ``context`` shuts down (for a background thread)."""
    while context.ok():
        try:
            executor.spin_once(timeout_sec=0.05)
        except Exception:  # noqa: B902 - shutdown races end the loop
            if not context.ok():
                return
            raise


class _Context:
    """An rclpy context, a container node and a multi-threaded executor on a thread."""

    def __init__(self) -> None:
        import rclpy
        from rclpy.executors import MultiThreadedExecutor

        from accel_ai_ros.container import ComponentContainer
        self.rclpy = rclpy
        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        self.container = ComponentContainer(f'bench_container_{os.getpid()}',
                                            context=self.context)
        self.executor = MultiThreadedExecutor(context=self.context)
        self.executor.add_node(self.container)
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        spin_until_shutdown(self.executor, self.context)

    def load(self, plugin: str, name: str, namespace: str, params: Dict[str, Any],
             intra: bool = False) -> Any:
        return self.container.load(_load_request(plugin, name, namespace, params, intra))[1]

    def close(self) -> None:
        self.container.unload_all()
        self.executor.remove_node(self.container)
        self.container.destroy_node()
        self.rclpy.try_shutdown(context=self.context)
        self._thread.join(timeout=5.0)
        self.executor.shutdown()


def batch_dynamic_copy(params: Dict[str, Any], folder: Path) -> Path:
    """Write the fp32 model with a dynamic first dimension into ``folder``; return its path."""
    import onnx

    from accel_ai_ros.params import resolve_path
    model = onnx.load(str(resolve_path(str(params['engines.fp32']), str(params['model_dir']))))
    for value in list(model.graph.input[:1]) + list(model.graph.output):
        value.type.tensor_type.shape.dim[0].dim_param = 'batch'
    out = folder / 'batch_dynamic.onnx'
    onnx.save(model, str(out))
    return out


def _source_params(width: int, height: int, rate: float, count: int,
                   frame_id: str) -> Dict[str, Any]:
    return {'source': 'pattern', 'width': width, 'height': height, 'rate_hz': rate,
            'count': count, 'frame_id': frame_id}


def _wait(predicate: Any, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return bool(predicate())


def _child(args: List[str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, '-m', 'accel_ai_ros_tools.bench_composition',
                             *args], stdin=subprocess.DEVNULL)


# -- handoff ---------------------------------------------------------------------------
HANDOFF_MODES = ('in_process', 'one_process_dds', 'two_processes')


def measure_handoff(params: Dict[str, Any], rounds: int, frames: int, rate: float,
                    width: int, height: int) -> List[Dict[str, Any]]:
    """Run the three hand-off paths in interleaved rounds; return each one's figures.

    Rounds alternate the paths so that a change of the machine's load touches all three.
    ``transport`` is, per frame, stamp -> publish minus receipt -> publish: filling the
    message, serialisation, delivery and the executor's dispatch.
    """
    ctx = _Context()
    try:
        nodes = {}
        for mode in HANDOFF_MODES:
            node = ctx.load('accel_ai_ros::InferenceNode', 'inference',
                            f'/handoff_{mode}_{os.getpid()}', dict(params, max_frame_age_ms=0.0),
                            intra=(mode == 'in_process'))
            if not _wait(lambda: node._pipeline is not None, 60.0):
                raise AccelAiError('the inference node did not activate')
            nodes[mode] = node
        for _ in range(rounds):
            for mode, node in nodes.items():
                _one_round(ctx, mode, node, frames, rate, width, height)
        figures = []
        for mode, node in nodes.items():
            total = node.latency.samples('stamp_to_publish')
            node_part = node.latency.samples('receipt_to_publish')
            figures.append({
                'mode': mode, 'frames': rounds * frames, 'counters': node.counters.snapshot(),
                'stamp_to_publish_ms': summarize(total, QUANTILES),
                'receipt_to_publish_ms': summarize(node_part, QUANTILES),
                'transport_ms': summarize([t - r for t, r in zip(total, node_part)],
                                          QUANTILES)})
        return figures
    finally:
        ctx.close()


def _wait_received(node: Any, target: int, duration: float) -> None:
    """Wait until ``node`` received ``target`` frames, or none came for 2 s once some did.

    Best-effort delivery may lose a frame under load; the round then ends when the stream has
    stopped instead of at a timeout (``duration`` + 120 s at most).
    """
    start = time.monotonic()
    first = last = node.counters.get('received')
    last_change = start
    while node.counters.get('received') < target:
        now = time.monotonic()
        count = node.counters.get('received')
        if count != last:
            last, last_change = count, now
        elif count > first and now - last_change > 2.0:
            return
        if now - start > duration + 120.0:
            return
        time.sleep(0.05)


def _one_round(ctx: _Context, mode: str, node: Any, frames: int, rate: float, width: int,
               height: int) -> None:
    """Publish ``frames`` frames to ``node`` along ``mode``'s path; wait until they are done."""
    ns = node.get_namespace()
    before = node.counters.get('received')
    if mode == 'two_processes':
        child = _child(['--child', 'sources', '--namespace', ns, '--cameras', '1',
                        '--width', str(width), '--height', str(height), '--rate', str(rate),
                        '--count', str(frames), '--single'])
        try:
            _wait_received(node, before + frames, frames / rate)
        finally:
            stop_process(child)
    else:
        source_id, _ = ctx.container.load(_load_request(
            'accel_ai_ros::ImageSource', 'camera', ns,
            _source_params(width, height, rate, frames, 'camera'), mode == 'in_process'))
        try:
            _wait_received(node, before + frames, frames / rate)
        finally:
            ctx.container.unload(source_id)
    _wait(lambda: node.counters.unaccounted() == 0, 30.0)


# -- cameras ---------------------------------------------------------------------------
def _memory(pids: Sequence[int]) -> Dict[str, float]:
    import psutil
    rss = pss = 0.0
    for pid in pids:
        info = psutil.Process(pid).memory_full_info()
        rss += info.rss
        pss += getattr(info, 'pss', info.rss)
    return {'rss_mb': rss / 2**20, 'pss_mb': pss / 2**20}


class _ResultClock:
    """Subscribes to each camera's results; latency from the header stamp to arrival."""

    def __init__(self, ctx: _Context, topics: Sequence[str]) -> None:
        from rclpy.qos import QoSProfile
        from rclpy.qos import ReliabilityPolicy
        from vision_msgs.msg import Detection2DArray
        self.latency: Dict[str, List[float]] = {t: [] for t in topics}
        self.seen: Dict[str, int] = dict.fromkeys(topics, 0)
        self.recording = False
        self._lock = threading.Lock()
        node = ctx.rclpy.create_node(f'bench_results_{os.getpid()}', context=ctx.context)
        ctx.executor.add_node(node)
        qos = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE)
        for topic in topics:
            node.create_subscription(Detection2DArray, topic,
                                     lambda msg, t=topic: self._on_result(t, msg), qos)
        self._node = node

    def _on_result(self, topic: str, msg: Any) -> None:
        now = time.time_ns()
        stamp = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
        with self._lock:
            self.seen[topic] += 1
            if self.recording:
                self.latency[topic].append((now - stamp) / 1e6)

    def every_topic_seen(self) -> bool:
        """Return whether each camera's results arrived at least once."""
        with self._lock:
            return all(self.seen.values())


def measure_cameras(mode: str, params: Dict[str, Any], cameras: int, seconds: float,
                    rate: float, width: int, height: int, scratch: Path) -> Dict[str, Any]:
    """Run one multi-camera configuration; return memory, throughput and latency."""
    ns = f'/cams_{mode}_{os.getpid()}'
    ctx = _Context()
    procs: List[subprocess.Popen] = []
    try:
        topics = [f'{ns}/cam{i}/inference/results' for i in range(cameras)]
        clock = _ResultClock(ctx, topics)
        params_path = scratch / f'params_{mode}.json'
        params_path.write_text(json.dumps(params))
        if mode == 'shared':
            procs.append(_child(['--child', 'container', '--namespace', ns, '--cameras',
                                 str(cameras), '--params-json', str(params_path)]))
        else:
            for i in range(cameras):
                procs.append(_child(['--child', 'container', '--namespace', f'{ns}/cam{i}',
                                     '--cameras', '1', '--params-json', str(params_path),
                                     '--single']))
        node_pids = [p.pid for p in procs]
        sources = _child(['--child', 'sources', '--namespace', ns, '--cameras', str(cameras),
                          '--width', str(width), '--height', str(height),
                          '--rate', str(rate), '--count', '0'])
        procs.append(sources)
        if not _wait(clock.every_topic_seen, 120.0):
            raise AccelAiError('no results from every camera within 120 s')
        time.sleep(3.0)  # warm up
        clock.recording = True
        start = time.monotonic()
        time.sleep(seconds / 2)
        memory = _memory(node_pids)
        time.sleep(seconds / 2)
        clock.recording = False
        elapsed = time.monotonic() - start
        with clock._lock:
            per_camera = {t: list(v) for t, v in clock.latency.items()}
        every = [x for v in per_camera.values() for x in v]
        return {
            'mode': mode, 'cameras': cameras, 'processes': len(node_pids), **memory,
            'results_per_s': len(every) / elapsed,
            'results_per_s_per_camera': [len(v) / elapsed for v in per_camera.values()],
            'latency_ms': summarize(every, QUANTILES),
        }
    finally:
        for proc in reversed(procs):
            stop_process(proc)
        ctx.close()


def _child_main(args: argparse.Namespace) -> int:
    """Run a child role until SIGTERM: the camera sources or a container of nodes."""
    import signal
    configure_dds_environment()
    ctx = _Context()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        if args.child == 'sources':
            for i in range(args.cameras):
                camera_ns = args.namespace if args.single else f'{args.namespace}/cam{i}'
                ctx.load('accel_ai_ros::ImageSource', 'camera', camera_ns, _source_params(
                    args.width, args.height, args.rate, args.count, f'cam{i}'))
        else:
            params = json.loads(Path(args.params_json).read_text())
            for i in range(args.cameras):
                camera_ns = args.namespace if args.single else f'{args.namespace}/cam{i}'
                ctx.load('accel_ai_ros::InferenceNode', 'inference', camera_ns,
                         dict(params, share_engine=not args.single))
        stop.wait()
    finally:
        ctx.close()
    return 0


def machine() -> Dict[str, Any]:
    """Return what the figures were measured on."""
    import psutil
    return {'cpu': platform.processor() or platform.machine(), 'cores': os.cpu_count(),
            'memory_gb': round(psutil.virtual_memory().total / 2**30, 1),
            'python': platform.python_version(), 'load_average': list(os.getloadavg())}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the command line of ``benchmark composition``."""
    parser.add_argument('what', nargs='?', choices=('all', 'handoff', 'cameras'),
                        default='all')
    parser.add_argument('--params', type=Path, default=None,
                        help='node parameter file (default: the shipped face_detector.yaml)')
    parser.add_argument('--model-dir', default='', help='model_dir for the parameter file')
    parser.add_argument('--rounds', type=int, default=5,
                        help='hand-off rounds; each runs every path in turn')
    parser.add_argument('--frames', type=int, default=30,
                        help='hand-off frames per path and round')
    parser.add_argument('--handoff-rate', type=float, default=10.0)
    parser.add_argument('--cameras', type=int, default=4)
    parser.add_argument('--batch-dynamic', action='store_true',
                        help='serve the cameras from a copy of the fp32 model whose batch '
                             'dimension is made dynamic (written to a temporary folder), so '
                             'the shared engine can batch')
    parser.add_argument('--seconds', type=float, default=20.0,
                        help='measured seconds per multi-camera configuration')
    parser.add_argument('--output', type=Path, default=None, help='write the figures (JSON)')
    for name in ('--child', '--namespace', '--params-json'):
        parser.add_argument(name, help=argparse.SUPPRESS)
    parser.add_argument('--width', type=int, default=640, help=argparse.SUPPRESS)
    parser.add_argument('--height', type=int, default=480, help=argparse.SUPPRESS)
    parser.add_argument('--rate', type=float, default=30.0, help=argparse.SUPPRESS)
    parser.add_argument('--count', type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument('--single', action='store_true', help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    """Measure and print the figures (JSON)."""
    if args.child:
        return _child_main(args)
    configure_dds_environment()
    params_file = args.params or find_config('face_detector.yaml')
    if params_file is None:
        raise AccelAiError('face_detector.yaml not found; pass --params')
    params = node_parameters(Path(params_file), args.model_dir)
    figures: Dict[str, Any] = {'machine': machine(), 'params': str(params_file)}
    with tempfile.TemporaryDirectory(prefix='accel_ai_bench_') as scratch:
        measure_all(args, params, Path(scratch), figures)
    text = json.dumps(figures, indent=2)
    print(text)
    if args.output:
        args.output.write_text(text + '\n', encoding='utf-8')
    return 0


def measure_all(args: argparse.Namespace, params: Dict[str, Any], scratch: Path,
                figures: Dict[str, Any]) -> None:
    """Run the configurations ``args.what`` asks for; add their figures to ``figures``."""
    if args.what in ('all', 'handoff'):
        figures['handoff'] = measure_handoff(params, args.rounds, args.frames,
                                             args.handoff_rate, 1920, 1080)
    if args.what in ('all', 'cameras'):
        if args.batch_dynamic:
            copy = batch_dynamic_copy(params, scratch)
            params = dict(params, **{'engines.fp32': str(copy)})
            figures['cameras_model'] = params['engines.fp32'] + ' (batch made dynamic)'
        figures['cameras'] = [
            measure_cameras('shared', dict(params, max_batch=args.cameras), args.cameras,
                            args.seconds, 30.0, 640, 480, scratch),
            measure_cameras('separate', params, args.cameras, args.seconds, 30.0, 640, 480,
                            scratch),
            measure_cameras('one_camera', params, 1, args.seconds, 30.0, 640, 480, scratch)]


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the benchmark (also the children's entry point)."""
    parser = argparse.ArgumentParser(prog='benchmark composition')
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == '__main__':
    sys.exit(main())
