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

"""
``benchmark soak`` and ``benchmark swap-storm``: the node under a long stream.

Both start the real ``inference_node`` in its own process with the demo models, publish
640x480 rgb8 frames at ``--rate`` Hz from this process over DDS on loopback, and print what
they measured:

- ``soak``: the node's resident memory (``/proc/<pid>/status``) and the receipt-to-publish
  latency (``~/latency``) per window of ``--window`` seconds, for ``--duration`` seconds.
- ``swap-storm``: ``--swaps`` precision changes (fp32 <-> fp16), one every ``--period``
  seconds, through the parameter service while the stream runs; then whether any frame was
  lost (every frame sent has an outcome in /diagnostics) and whether any result carried a
  header that was never sent.
"""

import argparse
import os
from pathlib import Path
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any
from typing import Dict
from typing import List
from typing import Optional

import numpy as np

from accel_ai_ros.errors import AccelAiError
from accel_ai_ros.stats import summarize
from accel_ai_ros.subprocesses import stop_process
from accel_ai_ros_tools.environment import configure_dds_environment
from accel_ai_ros_tools.environment import find_config

NAMESPACE = '/reliability_bench'
NODE = f'{NAMESPACE}/inference_node'


def rss_mb(pid: int) -> float:
    """Return the resident memory of process ``pid`` in MB (Linux)."""
    with open(f'/proc/{pid}/status', encoding='ascii') as status:
        for line in status:
            if line.startswith('VmRSS:'):
                return int(line.split()[1]) / 1024.0
    return float('nan')


def start_node(model_dir: Path, log: Any) -> subprocess.Popen:
    """Start the inference node with the demo configuration, logging into ``log``."""
    params = find_config('demo.yaml')
    if params is None:
        raise AccelAiError('config/demo.yaml is not installed: run scripts/setup.sh')
    args = [sys.executable, '-m', 'accel_ai_ros.startup', '--ros-args',
            '--params-file', str(params), '-r', f'__ns:={NAMESPACE}',
            '-p', f'model_dir:={model_dir}', '-p', 'max_frame_age_ms:=0.0']
    return subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)


class Bench:
    """The publishing and listening side: frames out, results, latency and counters in."""

    def __init__(self) -> None:
        from diagnostic_msgs.msg import DiagnosticArray
        from rcl_interfaces.srv import SetParameters
        import rclpy
        from rclpy.executors import MultiThreadedExecutor
        from rclpy.qos import qos_profile_sensor_data
        from rclpy.qos import QoSProfile
        from rclpy.qos import ReliabilityPolicy
        from sensor_msgs.msg import Image
        from std_msgs.msg import Float32
        import vision_msgs.msg
        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        self.node = rclpy.create_node('reliability_bench', context=self.context)
        reliable = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
        self.pub = self.node.create_publisher(Image, f'{NAMESPACE}/image',
                                              qos_profile_sensor_data)
        self.lock = threading.Lock()
        self.latency: List[float] = []
        self.result_stamps: List[int] = []
        self.counters: Dict[str, int] = {}
        self.node.create_subscription(Float32, f'{NODE}/latency', self._on_latency, reliable)
        self.node.create_subscription(vision_msgs.msg.Classification, f'{NODE}/results',
                                      self._on_result, reliable)
        self.node.create_subscription(DiagnosticArray, '/diagnostics', self._on_diagnostics,
                                      reliable)
        self.set_params: Any = self.node.create_client(SetParameters,
                                                       f'{NODE}/set_parameters')
        self.image_type = Image
        self.executor = MultiThreadedExecutor(num_threads=2, context=self.context)
        self.executor.add_node(self.node)
        self.thread = threading.Thread(target=self.executor.spin, daemon=True)
        self.thread.start()
        rng = np.random.default_rng(0)
        self.frames = [rng.integers(0, 255, (480, 640, 3), dtype=np.uint8).tobytes()
                       for _ in range(4)]
        self.sent_stamps: List[int] = []

    def _on_latency(self, msg: Any) -> None:
        with self.lock:
            self.latency.append(float(msg.data))

    def _on_result(self, msg: Any) -> None:
        with self.lock:
            self.result_stamps.append(msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec)

    def _on_diagnostics(self, msg: Any) -> None:
        for status in msg.status:
            if NAMESPACE[1:] not in status.name:
                continue
            values = {kv.key: kv.value for kv in status.values}
            with self.lock:
                self.counters = {key[len('frames '):]: int(value)
                                 for key, value in values.items()
                                 if key.startswith('frames ') and value.isdigit()}

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Wait until the node subscribes and its parameter service answers."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.pub.get_subscription_count() and self.set_params.service_is_ready():
                return
            time.sleep(0.1)
        raise AccelAiError('the node did not come up within 60 s (see its stderr above)')

    def publish(self, index: int) -> None:
        """Publish frame ``index`` with a unique stamp."""
        msg = self.image_type(height=480, width=640, encoding='rgb8', step=640 * 3,
                              data=self.frames[index % len(self.frames)])
        stamp = 1_000_000_000 + index * 1000
        msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp, 10**9)
        msg.header.frame_id = 'bench'
        self.sent_stamps.append(stamp)
        self.pub.publish(msg)

    def set_precision(self, precision: str) -> Any:
        """Ask the node to change precision; return the service future."""
        from rcl_interfaces.msg import Parameter
        from rcl_interfaces.msg import ParameterType
        from rcl_interfaces.msg import ParameterValue
        from rcl_interfaces.srv import SetParameters
        value = ParameterValue(type=ParameterType.PARAMETER_STRING, string_value=precision)
        return self.set_params.call_async(
            SetParameters.Request(parameters=[Parameter(name='precision', value=value)]))

    def take_latency(self) -> List[float]:
        """Return and forget the latency samples received so far."""
        with self.lock:
            samples, self.latency = self.latency, []
        return samples

    def close(self) -> None:
        """Shut this side's ROS context down."""
        import rclpy
        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)


def _stream(bench: Bench, rate: float, seconds: float, start_index: int,
            every: Optional[Any] = None) -> int:
    """Publish at ``rate`` Hz for ``seconds``; call ``every(now)`` each frame; return count."""
    period = 1.0 / rate
    start = time.monotonic()
    index = start_index
    while True:
        now = time.monotonic()
        if now - start >= seconds:
            return index - start_index
        bench.publish(index)
        index += 1
        if every is not None:
            every(now)
        time.sleep(max(0.0, start + (index - start_index) * period - time.monotonic()))


def _line(label: str, samples: List[float]) -> str:
    stats = summarize(samples)
    return (f'{label}  n={len(samples):5d}  p50={stats["p50"]:7.2f}  p95={stats["p95"]:7.2f}  '
            f'p99={stats["p99"]:7.2f} ms')


def _settle(bench: Bench, sent: int, timeout: float = 20.0) -> Dict[str, int]:
    """Wait until /diagnostics accounts for every frame the node received; return counts."""
    end = time.monotonic() + timeout
    counts: Dict[str, int] = {}
    while time.monotonic() < end:
        with bench.lock:
            counts = dict(bench.counters)
        outcomes = sum(v for k, v in counts.items() if k != 'received')
        if counts and counts.get('received', 0) == outcomes and outcomes >= sent * 0.5:
            time.sleep(1.5)
            with bench.lock:
                if dict(bench.counters) == counts:
                    return counts
        time.sleep(0.3)
    return counts


def run_soak(bench: Bench, pid: int, args: argparse.Namespace) -> int:
    """Stream for ``--duration`` seconds; print memory and latency per window."""
    print(f'soak: {args.rate:g} Hz 640x480 rgb8 for {args.duration:g} s, window '
          f'{args.window:g} s; node pid {pid}')
    print(f'start  rss={rss_mb(pid):7.1f} MB')
    first_rss = None
    index = 0
    elapsed = 0.0
    while elapsed < args.duration:
        span = min(args.window, args.duration - elapsed)
        index += _stream(bench, args.rate, span, index)
        elapsed += span
        rss = rss_mb(pid)
        first_rss = rss if first_rss is None else first_rss
        print(f't={elapsed:6.0f} s  rss={rss:7.1f} MB  ' + _line('latency', bench.take_latency()))
    counts = _settle(bench, index)
    last = rss_mb(pid)
    growth = (last - first_rss) / first_rss * 100.0 if first_rss else float('nan')
    print(f'sent {index} frames; node counters {counts}')
    print(f'resident memory after the first window {first_rss:.1f} MB, at the end {last:.1f} MB '
          f'({growth:+.2f} %)')
    return 0


def run_swap_storm(bench: Bench, pid: int, args: argparse.Namespace) -> int:
    """Swap precisions under the stream; print frames lost and foreign headers."""
    print(f'swap-storm: {args.swaps} swaps fp32<->fp16, one every {args.period:g} s, under '
          f'{args.rate:g} Hz 640x480 rgb8; node pid {pid}')
    futures: List[Any] = []
    state = {'next': time.monotonic() + args.period, 'n': 0}

    def maybe_swap(now: float) -> None:
        if state['n'] < args.swaps and now >= state['next']:
            futures.append(bench.set_precision('fp16' if state['n'] % 2 == 0 else 'fp32'))
            state['n'] += 1
            state['next'] += args.period
    seconds = args.swaps * args.period + 2.0
    sent = _stream(bench, args.rate, seconds, 0, maybe_swap)
    counts = _settle(bench, sent)
    accepted = sum(1 for f in futures if f.done() and f.result().results[0].successful)
    with bench.lock:
        stamps = list(bench.result_stamps)
    sent_set = set(bench.sent_stamps)
    foreign = sum(1 for s in stamps if s not in sent_set)
    outcomes = sum(v for k, v in counts.items() if k != 'received')
    print(f'swaps requested {len(futures)}, accepted {accepted}')
    print(f'frames sent {sent}, received {counts.get("received", 0)}, outcomes {outcomes}: '
          + ', '.join(f'{k} {v}' for k, v in counts.items() if k != 'received' and v))
    print(f'results {len(stamps)}, with a header that was never sent: {foreign}')
    print(_line('latency', bench.take_latency()))
    print(f'node resident memory at the end {rss_mb(pid):.1f} MB')
    return 0 if foreign == 0 and counts.get('received', 0) == outcomes else 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``soak`` and ``swap-storm``."""
    parser.add_argument('--model-dir', type=Path, default=Path('models/demo'),
                        help='folder with the demo models (scripts/setup.sh makes models/demo)')
    parser.add_argument('--rate', type=float, default=30.0, help='frames per second')
    parser.add_argument('--duration', type=float, default=600.0,
                        help='soak: seconds to stream (default 600)')
    parser.add_argument('--window', type=float, default=60.0,
                        help='soak: seconds per printed line (default 60)')
    parser.add_argument('--swaps', type=int, default=1000,
                        help='swap-storm: precision changes (default 1000)')
    parser.add_argument('--period', type=float, default=0.2,
                        help='swap-storm: seconds between changes (default 0.2)')


def run(args: argparse.Namespace) -> int:
    """Start the node, run the chosen benchmark, print its figures."""
    model_dir = args.model_dir.resolve()
    if not (model_dir / 'digits_fp32.onnx').is_file():
        raise AccelAiError(f'{model_dir} has no digits_fp32.onnx: run make_demo_models '
                           '--output-dir models/demo (scripts/setup.sh does)')
    configure_dds_environment()
    os.environ.setdefault('ROS_DOMAIN_ID', str(100 + os.getpid() % 100))
    log = tempfile.TemporaryFile()
    proc = start_node(model_dir, log)
    bench = None
    try:
        bench = Bench()
        bench.wait_ready()
        time.sleep(1.0)
        if args.command == 'soak':
            return run_soak(bench, proc.pid, args)
        return run_swap_storm(bench, proc.pid, args)
    finally:
        if bench is not None:
            bench.close()
        stop_process(proc)
        log.seek(0)
        lines = log.read().decode('utf-8', 'replace').splitlines()
        log.close()
        warnings = [line for line in lines if '[WARN]' in line or '[ERROR]' in line]
        print(f'node exit code {proc.returncode}; {len(lines)} log lines, '
              f'{len(warnings)} warnings or errors' + (f', the last: {warnings[-1]}'
                                                       if warnings else ''))
