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

"""``benchmark latency``: the node's end-to-end latency against bare inference.

For each frame size, in one run: a publisher (another process by default) stamps and
publishes ``bgr8`` frames at a set rate to a real :class:`~accel_ai_ros.node.InferenceNode`
spun by a single-threaded executor, as ``ros2 run`` does; the node's own latency stages give
receipt-to-publish and stamp-to-publish percentiles. The same images then go through the
backend alone: ``runner.infer`` on the preprocessed tensor (bare inference) and
``FrameProcessor.process`` on the decoded image (bare processing, no ROS). The difference is
the node's overhead; the cost of copying the message data (rclpy deserialisation of one
Image, ``bytes(msg.data)``) is measured beside it for comparison.

rclpy is imported only after :func:`configure_dds_environment` kept DDS on this machine and
pointed Fast DDS at the shipped shared-memory profile (large frames between processes need
it).
"""

import argparse
from dataclasses import dataclass
from dataclasses import field
import json
import math
import os
from pathlib import Path
import platform
import queue
import subprocess
import sys
import threading
import time
from typing import Any
from typing import Callable
from typing import Dict
from typing import IO
from typing import List
from typing import Optional
from typing import Sequence
from typing import Tuple

import numpy as np

from accel_ai_ros.errors import AccelAiError
from accel_ai_ros.frame_processor import FrameProcessor
from accel_ai_ros.frame_processor import ProcessingSettings
from accel_ai_ros.image_codec import decode_image
from accel_ai_ros.image_codec import DecodedImage
from accel_ai_ros.preprocess import CpuPreprocessor
from accel_ai_ros.stats import summarize
from accel_ai_ros_tools.environment import configure_dds_environment
from accel_ai_ros_tools.environment import find_config
from accel_ai_ros_tools.environment import PROFILE_NAME

STAGES: Tuple[str, ...] = ('queue', 'decode', 'preprocess', 'inference', 'postprocess',
                           'publish')
DISTINCT_FRAMES = 8
MATCH_TIMEOUT_S = 30.0
SETTLE_S = 1.0
_PROTOCOL = '@@ '


def parse_sizes(text: str) -> List[Tuple[int, int]]:
    """Parse '640x480,1920x1080' into [(640, 480), (1920, 1080)]."""
    sizes = []
    for item in (s.strip() for s in text.split(',')):
        if not item:
            continue
        try:
            width, height = (int(v) for v in item.lower().split('x'))
        except ValueError as err:
            raise AccelAiError(f"size '{item}' is not WIDTHxHEIGHT (e.g. 640x480)") from err
        if width <= 0 or height <= 0:
            raise AccelAiError(f"size '{item}' must be positive")
        sizes.append((width, height))
    if not sizes:
        raise AccelAiError('no frame size given; e.g. --sizes 640x480,1920x1080')
    return sizes


def make_frames(width: int, height: int, count: int = DISTINCT_FRAMES,
                seed: int = 0) -> List[np.ndarray]:
    """Return ``count`` deterministic BGR uint8 frames: moving colour bars plus noise."""
    rng = np.random.default_rng(seed)
    bars = np.array([[255, 255, 255], [0, 255, 255], [255, 255, 0], [0, 255, 0],
                     [255, 0, 255], [0, 0, 255], [255, 0, 0], [0, 0, 0]], dtype=np.int16)
    columns = np.arange(width) * len(bars) // max(1, width)
    frames = []
    for index in range(count):
        row = bars[(columns + index) % len(bars)]
        noise = rng.integers(-24, 25, size=(height, width, 3), dtype=np.int16)
        frame = np.clip(row[np.newaxis, :, :] + noise, 0, 255).astype(np.uint8)
        frames.append(np.ascontiguousarray(frame))
    return frames


def percentiles(samples: Sequence[float]) -> Dict[str, float]:
    """Return p50, p99, mean and count of ``samples`` (milliseconds); nan when empty."""
    summary = summarize(samples)
    return {'p50': summary['p50'], 'p99': summary['p99'], 'mean': summary['mean'],
            'count': int(summary['count'])}


def _timed(fn: Callable[[], Any], repeats: int) -> List[float]:
    """Call ``fn`` ``repeats`` times; return each call's time in milliseconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e3)
    return times


def load_average() -> List[float]:
    """Return the 1, 5 and 15 minute load averages (empty where the OS has none)."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return []


# -- the publisher ---------------------------------------------------------------------
class FramePublisher:
    """Publish prepared Image messages at a rate, each stamped right before publish."""

    def __init__(self, node: Any, topic: str, frames: Sequence[np.ndarray]) -> None:
        """Create a sensor-data QoS publisher on ``topic`` and fill one message per frame."""
        from rclpy.qos import qos_profile_sensor_data
        from sensor_msgs.msg import Image

        from accel_ai_ros_tools.image_source import fill_image
        self._node = node
        self.publisher = node.create_publisher(Image, topic, qos_profile_sensor_data)
        self._messages = []
        for frame in frames:
            msg = fill_image(Image(), frame, 'bgr8')
            msg.header.frame_id = 'camera'
            self._messages.append(msg)
        self.published = 0

    def wait_matched(self, timeout: float) -> bool:
        """Wait until a subscription matches (the inference node is active)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.publisher.get_subscription_count() > 0:
                return True
            time.sleep(0.02)
        return self.publisher.get_subscription_count() > 0

    def publish(self, count: int, rate_hz: float) -> int:
        """Publish ``count`` frames at ``rate_hz`` (0: back to back); return how many."""
        clock = self._node.get_clock()
        period = 1.0 / rate_hz if rate_hz > 0 else 0.0
        due = time.monotonic()
        for index in range(count):
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            msg = self._messages[index % len(self._messages)]
            msg.header.stamp = clock.now().to_msg()
            self.publisher.publish(msg)
            self.published += 1
            due += period
        return count


class _ThreadPublisher:
    """The publisher in this process: its own node in the benchmark's context."""

    def __init__(self, context: Any, topic: str, frames: Sequence[np.ndarray]) -> None:
        from rclpy.node import Node
        self._node = Node('bench_latency_publisher', context=context)
        self._pub = FramePublisher(self._node, topic, frames)

    def wait_matched(self, timeout: float) -> bool:
        return self._pub.wait_matched(timeout)

    def publish(self, count: int, rate_hz: float) -> int:
        return self._pub.publish(count, rate_hz)

    def close(self) -> None:
        self._node.destroy_node()


class _ChildPublisher:
    """The publisher in another process, driven by one-line commands on its stdin."""

    def __init__(self, topic: str, width: int, height: int, seed: int) -> None:
        env = dict(os.environ)
        # The child imports the modules this process imports, from the same places.
        env['PYTHONPATH'] = os.pathsep.join(p for p in sys.path if p)
        self._proc = subprocess.Popen(
            [sys.executable, '-m', 'accel_ai_ros_tools.bench_latency', '--topic', topic,
             '--width', str(width), '--height', str(height), '--seed', str(seed)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env, bufsize=1)
        self._lines: 'queue.Queue[Optional[str]]' = queue.Queue()
        self._reader = threading.Thread(
            target=self._read, args=(self._proc.stdout,), daemon=True)
        self._reader.start()

    def _read(self, stream: Optional[IO[str]]) -> None:
        assert stream is not None
        for line in stream:
            if line.startswith(_PROTOCOL):
                self._lines.put(line[len(_PROTOCOL):].strip())
            else:
                sys.stderr.write(line)
        self._lines.put(None)

    def _expect(self, word: str, timeout: float) -> List[str]:
        end = time.monotonic() + timeout
        while True:
            try:
                line = self._lines.get(timeout=max(0.01, end - time.monotonic()))
            except queue.Empty:
                raise AccelAiError(f'the publisher process sent no {word!r} within '
                                   f'{timeout:.0f} s') from None
            if line is None:
                raise AccelAiError(f'the publisher process ended (exit code '
                                   f'{self._proc.wait()}) before {word!r}; see its messages '
                                   'above')
            parts = line.split()
            if parts and parts[0] == 'error':
                raise AccelAiError(f'publisher process: {line[6:]}')
            if parts and parts[0] == word:
                return parts[1:]

    def _send(self, line: str) -> None:
        assert self._proc.stdin is not None
        self._proc.stdin.write(line + '\n')
        self._proc.stdin.flush()

    def wait_matched(self, timeout: float) -> bool:
        self._expect('ready', timeout + 30.0)
        self._send(f'match {timeout}')
        return self._expect('matched', timeout + 10.0)[0] == '1'

    def publish(self, count: int, rate_hz: float) -> int:
        self._send(f'publish {count} {rate_hz}')
        return int(self._expect('published', 30.0 + 2.0 * count / max(rate_hz, 30.0))[0])

    def close(self) -> None:
        if self._proc.poll() is None:
            try:
                self._send('quit')
                self._proc.wait(timeout=10.0)
            except (OSError, subprocess.TimeoutExpired):
                self._proc.kill()
                self._proc.wait()
        self._reader.join(timeout=5.0)


def child_main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the publisher process: obey 'match', 'publish N RATE' and 'quit' on stdin."""
    parser = argparse.ArgumentParser(description='the publisher process of the benchmark')
    parser.add_argument('--topic', required=True)
    parser.add_argument('--width', type=int, required=True)
    parser.add_argument('--height', type=int, required=True)
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    configure_dds_environment()
    import rclpy
    from rclpy.node import Node

    def say(line: str) -> None:
        print(_PROTOCOL + line, flush=True)

    context = rclpy.Context()
    rclpy.init(args=[], context=context)
    node = Node('bench_latency_publisher', context=context)
    try:
        pub = FramePublisher(node, args.topic,
                             make_frames(args.width, args.height, seed=args.seed))
        say('ready')
        for line in sys.stdin:
            words = line.split()
            if not words or words[0] == 'quit':
                break
            if words[0] == 'match':
                say('matched ' + ('1' if pub.wait_matched(float(words[1])) else '0'))
            elif words[0] == 'publish':
                say(f'published {pub.publish(int(words[1]), float(words[2]))}')
            else:
                say(f'error unknown command {line.strip()!r}')
    finally:
        node.destroy_node()
        rclpy.try_shutdown(context=context)
    return 0


# -- bare measurements -----------------------------------------------------------------
def node_values(node: Any) -> Dict[str, Any]:
    """Return every accel_ai_ros parameter of ``node`` by name."""
    from accel_ai_ros.params import PARAMETERS
    return {spec.name: node.get_parameter(spec.name).value for spec in PARAMETERS}


def load_runner(values: Dict[str, Any]) -> Tuple[Any, ProcessingSettings]:
    """Load the runner and settings the node uses, from its parameter values."""
    from accel_ai_ros.engines.selection import loader_for
    from accel_ai_ros.params import resolve_path
    model_dir = str(values['model_dir'])
    loader = loader_for(values, str(values['precision']))
    labels_file = str(values['labels_file'])
    settings = ProcessingSettings.from_params(values).with_labels_file(
        str(resolve_path(labels_file, model_dir)) if labels_file else '')
    return loader(), settings


def measure_bare(values: Dict[str, Any], frames: Sequence[np.ndarray], repeats: int,
                 rate_hz: float, warmup: int = 5) -> Dict[str, Any]:
    """Time bare inference and bare processing on ``frames`` (cycled ``repeats`` times).

    Measured twice: paced at ``rate_hz`` as the node sees frames (one call per period,
    alternating processing and inference, so caches and the engine's threads cool down
    between calls as they do in the node) and back to back (hot, the best case).
    """
    runner, settings = load_runner(values)
    try:
        processor = FrameProcessor(settings)
        spec = processor.spec_for(runner)
        images = [DecodedImage(frame, 'bgr') for frame in frames]
        preprocessor = CpuPreprocessor(spec)
        name = runner.inputs()[0].name
        tensors = [np.array(preprocessor(image)[0]) for image in images]

        def process(index: int) -> None:
            processor.process(images[index % len(images)], runner)

        def infer(index: int) -> None:
            runner.infer({name: tensors[index % len(tensors)]})

        for index in range(warmup):
            process(index)
        times: Dict[str, List[float]] = {'processing': [], 'inference': []}
        period = 1.0 / rate_hz if rate_hz > 0 else 0.0
        due = time.monotonic()
        for tick in range(2 * repeats):
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            due += period
            key, call = ('processing', process) if tick % 2 == 0 else ('inference', infer)
            start = time.perf_counter()
            call(tick // 2)
            times[key].append((time.perf_counter() - start) * 1e3)
        result: Dict[str, Any] = {'engine': runner.describe()}
        for key, call in (('processing', process), ('inference', infer)):
            result[key] = percentiles(times[key])
            hot = []
            for index in range(repeats):
                start = time.perf_counter()
                call(index)
                hot.append((time.perf_counter() - start) * 1e3)
            result[f'{key}_back_to_back'] = percentiles(hot)
        return result
    finally:
        runner.deactivate()


def measure_copy(frame: np.ndarray, repeats: int = 30) -> Dict[str, Dict[str, float]]:
    """Time what copying one frame's message data costs, the ways rclpy and Python do it."""
    from rclpy.serialization import deserialize_message
    from rclpy.serialization import serialize_message
    from sensor_msgs.msg import Image

    from accel_ai_ros_tools.image_source import fill_image
    msg = fill_image(Image(), frame, 'bgr8')
    wire = serialize_message(msg)
    received = deserialize_message(wire, Image)
    height, width = frame.shape[:2]
    return {
        'deserialize': percentiles(_timed(lambda: deserialize_message(wire, Image), repeats)),
        'bytes_copy': percentiles(_timed(lambda: bytes(received.data), repeats)),
        'serialize': percentiles(_timed(lambda: serialize_message(msg), repeats)),
        'decode_view': percentiles(_timed(lambda: decode_image(
            'bgr8', height, width, received.step, False, received.data), repeats)),
    }


# -- the node --------------------------------------------------------------------------
@dataclass
class SizeResult:
    """Everything measured for one frame size."""

    width: int
    height: int
    mode: str
    rate_hz: float
    published: int = 0
    counters: Dict[str, int] = field(default_factory=dict)
    node: Dict[str, Dict[str, float]] = field(default_factory=dict)
    bare: Dict[str, Any] = field(default_factory=dict)
    copy: Dict[str, Dict[str, float]] = field(default_factory=dict)
    load_average: List[float] = field(default_factory=list)
    duration_s: float = math.nan
    switch_interval_ms: float = math.nan

    def overhead(self) -> Dict[str, Dict[str, float]]:
        """Return end-to-end minus bare (p50, ms) and end-to-end / bare, per pair."""
        out = {}
        for e2e in ('receipt_to_publish', 'stamp_to_publish'):
            for bare in ('inference', 'processing'):
                end = self.node.get(e2e, {}).get('p50', math.nan)
                base = self.bare.get(bare, {}).get('p50', math.nan)
                out[f'{e2e}-{bare}'] = {
                    'ms': end - base, 'ratio': end / base if base > 0 else math.nan}
        return out

    def as_dict(self) -> Dict[str, Any]:
        """Return the result as plain JSON-ready data."""
        return {'width': self.width, 'height': self.height, 'mode': self.mode,
                'rate_hz': self.rate_hz, 'published': self.published,
                'counters': self.counters, 'node': self.node, 'bare': self.bare,
                'overhead': self.overhead(), 'copy': self.copy,
                'load_average': self.load_average, 'duration_s': self.duration_s,
                'switch_interval_ms': self.switch_interval_ms,
                'processed_per_s': self.processed_per_s}

    @property
    def processed_per_s(self) -> float:
        """Return processed frames per second, from the first publish to the last result."""
        done = self.counters.get('processed', 0)
        return done / self.duration_s if self.duration_s > 0 else math.nan


def _wait_settled(counters: Any, expected: int, timeout: float) -> float:
    """Wait until ``expected`` frames arrived (or arrivals stop) and none is in flight.

    Return the monotonic time at which the last frame finished (seen to within 1 ms).
    """
    end = time.monotonic() + timeout
    last, last_change = -1, time.monotonic()
    finished, last_finished = counters.get('received') - counters.unaccounted(), time.monotonic()
    while time.monotonic() < end:
        received = counters.get('received')
        if received != last:
            last, last_change = received, time.monotonic()
        done = received - counters.unaccounted()
        if done != finished:
            finished, last_finished = done, time.monotonic()
        idle = counters.unaccounted() == 0
        if idle and (received >= expected or time.monotonic() - last_change > SETTLE_S):
            return last_finished
        time.sleep(0.001)
    return last_finished


def run_node(width: int, height: int, frames: Sequence[np.ndarray], ros_args: List[str],
             args: argparse.Namespace) -> Tuple[SizeResult, Dict[str, Any]]:
    """Run the node against the publisher; return the result and the node's parameters."""
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    import rclpy.logging

    from accel_ai_ros.node import InferenceNode
    from accel_ai_ros.stats import LatencyTracker
    mode = 'same process' if args.same_process else 'separate process'
    result = SizeResult(width, height, mode, args.rate)
    namespace = f'/accel_ai_bench_{os.getpid()}'
    topic = f'{namespace}/image'
    context = rclpy.Context()
    # '--log-level warn' sets the process-wide default level: put it back when done, so
    # that a caller in the same process (a test, a notebook) keeps its own log level.
    default_level = rclpy.logging.get_logger_level('')
    rclpy.init(args=ros_args, context=context)
    executor = SingleThreadedExecutor(context=context)
    node = InferenceNode(namespace=namespace, context=context)
    node.latency = LatencyTracker(window=max(1000, args.frames))
    executor.add_node(node)
    stop = threading.Event()

    def spin() -> None:
        while not stop.is_set() and context.ok():
            executor.spin_once(timeout_sec=0.05)

    spinner = threading.Thread(target=spin, name='bench-executor', daemon=True)
    spinner.start()
    publisher: Any = None
    try:
        if args.same_process:
            publisher = _ThreadPublisher(context, topic, frames)
        else:
            publisher = _ChildPublisher(topic, width, height, args.seed)
        if not publisher.wait_matched(MATCH_TIMEOUT_S):
            raise AccelAiError(f'the inference node did not subscribe to {topic} within '
                               f'{MATCH_TIMEOUT_S:.0f} s; see its log above')
        publisher.publish(args.warmup, args.rate)
        _wait_settled(node.counters, args.warmup, 5.0)
        if node.counters.get('received') == 0:
            raise AccelAiError(
                f'none of {args.warmup} warm-up frames of {width}x{height} reached the node; '
                'large frames between processes need Fast DDS shared memory: export '
                f'FASTDDS_DEFAULT_PROFILES_FILE=<share>/accel_ai_ros/config/{PROFILE_NAME}')
        node.latency.reset()
        before = node.counters.snapshot()
        started = time.monotonic()
        result.switch_interval_ms = sys.getswitchinterval() * 1e3  # the node may lower it
        result.published = publisher.publish(args.frames, args.rate)
        result.duration_s = _wait_settled(
            node.counters, before['received'] + args.frames, 10.0) - started
        after = node.counters.snapshot()
        result.counters = {k: after[k] - before.get(k, 0) for k in after}
        for stage in STAGES + ('receipt_to_publish', 'stamp_to_publish'):
            result.node[stage] = percentiles(node.latency.samples(stage))
        receipt = node.latency.samples('receipt_to_publish')
        stamp = node.latency.samples('stamp_to_publish')
        if len(receipt) == len(stamp):
            result.node['stamp_to_receipt'] = percentiles(
                [s - r for s, r in zip(stamp, receipt)])
        work = [node.latency.samples(s) for s in ('preprocess', 'inference', 'postprocess')]
        if all(len(w) == len(receipt) for w in work):
            # Per frame, so immune to load drift between the node and the bare phases.
            result.node['receipt_to_publish_minus_processing'] = percentiles(
                [r - sum(w) for r, *w in zip(receipt, *work)])
        values = node_values(node)
    finally:
        if publisher is not None:
            publisher.close()
        stop.set()
        spinner.join(timeout=5.0)
        executor.remove_node(node)
        node.destroy_node()
        executor.shutdown()
        rclpy.try_shutdown(context=context)
        rclpy.logging.set_logger_level('', default_level)
    return result, values


# -- models and the report -------------------------------------------------------------
def choose_models(args: argparse.Namespace) -> Tuple[Path, Optional[Path], str]:
    """Return the params file, the model folder and a short description of the model."""
    if args.params_file:
        model_dir = Path(args.model_dir).resolve() if args.model_dir else None
        return Path(args.params_file).resolve(), model_dir, Path(args.params_file).stem
    model_dir = Path(args.model_dir or 'models/demo').resolve()
    config = find_config('demo.yaml')
    if config is None:
        raise AccelAiError('config/demo.yaml not found; reinstall accel_ai_ros')
    from accel_ai_ros_tools.demo_models import build_demo_models
    from accel_ai_ros_tools.demo_models import model_file
    if not (model_dir / model_file('fp32')).is_file():
        print(f'building the demo models in {model_dir}', flush=True)
        build_demo_models(model_dir)
    return config, model_dir, 'demo digits classifier'


def _fmt(value: float) -> str:
    return 'n/a' if math.isnan(value) else f'{value:.2f}'


def report(result: SizeResult) -> str:
    """Return the human-readable block of one frame size."""
    c = result.counters
    dropped = sum(v for k, v in c.items() if k.startswith('dropped'))
    lost = result.published - c.get('received', 0)
    lines = [
        f'{result.width}x{result.height} bgr8 ({result.width * result.height * 3:,} bytes a '
        f'frame), publisher in {result.mode}, '
        f'{f"{result.rate_hz:g} Hz" if result.rate_hz > 0 else "back to back"}, GIL switch '
        f'interval {result.switch_interval_ms:g} ms, load average '
        f'{" ".join(str(v) for v in result.load_average)}',
        f'  frames: published {result.published}, received {c.get("received", 0)}, '
        f'processed {c.get("processed", 0)}, dropped {dropped} (overtaken '
        f'{c.get("dropped_overtaken", 0)}, stale {c.get("dropped_stale", 0)}), rejected '
        f'{c.get("rejected", 0)}, failed {c.get("failed", 0)}, lost in transport {lost}, '
        f'unaccounted {c.get("received", 0) - sum(v for k, v in c.items() if k != "received")}',
        f'  throughput: {c.get("processed", 0)} processed in {_fmt(result.duration_s)} s = '
        f'{_fmt(result.processed_per_s)} frames/s (first publish to last result)',
        f'  {"":34s}{"p50 ms":>9s}{"p99 ms":>9s}',
    ]
    rows = [('bare inference, back to back', result.bare['inference_back_to_back']),
            ('bare processing, back to back', result.bare['processing_back_to_back']),
            (f'bare inference, {result.rate_hz:g} Hz', result.bare['inference']),
            (f'bare processing, {result.rate_hz:g} Hz', result.bare['processing']),
            ('node receipt -> publish', result.node['receipt_to_publish']),
            ('node stamp -> publish', result.node['stamp_to_publish']),
            ('transport stamp -> receipt', result.node.get('stamp_to_receipt', {}))]
    for label, stats in rows:
        lines.append(f'  {label:34s}{_fmt(stats.get("p50", math.nan)):>9s}'
                     f'{_fmt(stats.get("p99", math.nan)):>9s}')
    overhead = result.overhead()
    for e2e, label in (('receipt_to_publish', 'receipt -> publish'),
                       ('stamp_to_publish', 'stamp -> publish')):
        inf, proc = overhead[f'{e2e}-inference'], overhead[f'{e2e}-processing']
        lines.append(
            f'  overhead p50 {label:19s} +{_fmt(inf["ms"])} ms vs inference (x'
            f'{_fmt(inf["ratio"])}), +{_fmt(proc["ms"])} ms vs processing (x'
            f'{_fmt(proc["ratio"])})')
    own = result.node.get('receipt_to_publish_minus_processing', {})
    lines.append(f'  node overhead per frame (receipt -> publish minus its own processing): '
                 f'p50 {_fmt(own.get("p50", math.nan))} ms, p99 '
                 f'{_fmt(own.get("p99", math.nan))} ms')
    lines.append('  node stages p50 ms: ' + '  '.join(
        f'{s} {_fmt(result.node[s]["p50"])}' for s in STAGES))
    cp = result.copy
    lines.append(
        f'  message-data copy p50 ms: rclpy deserialize Image {_fmt(cp["deserialize"]["p50"])}'
        f', bytes(msg.data) {_fmt(cp["bytes_copy"]["p50"])}, serialize '
        f'{_fmt(cp["serialize"]["p50"])}, decode (view) {_fmt(cp["decode_view"]["p50"])}')
    return '\n'.join(lines)


def markdown_table(results: Sequence[SizeResult]) -> str:
    """Return the README table: one row per frame size (p50 / p99 in ms)."""
    lines = [
        '| frame | publisher | bare inference (paced) | bare processing (paced) | '
        'receipt -> publish | '
        'stamp -> publish | overhead vs processing (receipt / stamp) | deserialize copy |',
        '|---|---|---|---|---|---|---|---|',
    ]
    for r in results:
        def pair(stats: Dict[str, float]) -> str:
            return f'{_fmt(stats["p50"])} / {_fmt(stats["p99"])}'
        over = r.overhead()
        lines.append(
            f'| {r.width}x{r.height} | {r.mode} | {pair(r.bare["inference"])} | '
            f'{pair(r.bare["processing"])} | {pair(r.node["receipt_to_publish"])} | '
            f'{pair(r.node["stamp_to_publish"])} | '
            f'{_fmt(over["receipt_to_publish-processing"]["ms"])} / '
            f'{_fmt(over["stamp_to_publish-processing"]["ms"])} | '
            f'{_fmt(r.copy["deserialize"]["p50"])} |')
    return '\n'.join(lines)


def machine() -> Dict[str, Any]:
    """Describe this machine in a few fields."""
    return {'system': f'{platform.system()} {platform.machine()}',
            'processor': platform.processor() or platform.machine(),
            'cpus': os.cpu_count(), 'python': platform.python_version(),
            'load_average': load_average()}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the latency benchmark's options to ``parser``."""
    parser.add_argument('--params-file', default='',
                        help='node parameters (default: config/demo.yaml with the demo '
                             'models in --model-dir, built there when missing)')
    parser.add_argument('--model-dir', default='', help='folder the engines are in')
    parser.add_argument('--precision', default='', help='precision to run (default: the file)')
    parser.add_argument('--sizes', default='640x480,1920x1080',
                        help='frame sizes, comma-separated WIDTHxHEIGHT')
    parser.add_argument('--frames', type=int, default=300, help='measured frames per size')
    parser.add_argument('--warmup', type=int, default=20,
                        help='frames published (and discarded) before measuring')
    parser.add_argument('--rate', type=float, default=30.0,
                        help='frames per second (0: as fast as the publisher goes)')
    parser.add_argument('--same-process', action='store_true',
                        help='publish from this process instead of another one')
    parser.add_argument('--seed', type=int, default=0, help='seed of the synthetic frames')
    parser.add_argument('--json', default='', metavar='FILE', help='also write the results')
    parser.add_argument('--switch-interval-ms', type=float, default=0.0,
                        help="this process's GIL switch interval (sys.setswitchinterval; "
                             "0: leave Python's)")


def run(args: argparse.Namespace) -> int:
    """Measure every frame size; print the report and the table; 0 when frames arrived."""
    if args.frames < 1 or args.warmup < 1 or not args.rate >= 0:
        raise AccelAiError('--frames and --warmup must be at least 1 and --rate at least 0')
    if args.switch_interval_ms > 0:
        sys.setswitchinterval(args.switch_interval_ms / 1e3)
    env = configure_dds_environment()
    sizes = parse_sizes(args.sizes)
    params_file, model_dir, model_name = choose_models(args)
    ros_args = ['--ros-args', '--params-file', str(params_file),
                '-p', 'autostart:=true', '--log-level', 'warn']
    if model_dir is not None:
        ros_args += ['-p', f'model_dir:={model_dir}']
    if args.precision:
        ros_args += ['-p', f'precision:={args.precision}']
    host = machine()
    mode = 'this process' if args.same_process else 'another process'
    pace = f'at {args.rate:g} Hz' if args.rate > 0 else 'back to back'
    print(f'benchmark latency: {model_name}, publisher in {mode}, {args.frames} frames '
          f'{pace} per size (+{args.warmup} warm-up), GIL switch interval at start '
          f'{sys.getswitchinterval() * 1e3:g} ms', flush=True)
    print(f'machine: {host["system"]}, {host["cpus"]} CPUs, Python {host["python"]}, load '
          f'average {" ".join(str(v) for v in host["load_average"])}; params {params_file}',
          flush=True)
    results = []
    engine = ''
    for width, height in sizes:
        frames = make_frames(width, height, seed=args.seed)
        result, values = run_node(width, height, frames, ros_args, args)
        result.bare = measure_bare(values, frames, args.frames, args.rate)
        engine = result.bare.pop('engine')
        result.copy = measure_copy(frames[0])
        result.load_average = load_average()
        results.append(result)
        print('\n' + report(result), flush=True)
    print(f'\nengine: {engine}')
    print(markdown_table(results))
    status = 0
    for r in results:
        if r.counters.get('processed', 0) == 0:
            print(f'{r.width}x{r.height}: no frame was processed', file=sys.stderr)
            status = 1
    if args.json:
        data = {'model': model_name, 'engine': engine, 'params_file': str(params_file),
                'model_dir': str(model_dir or ''), 'frames': args.frames,
                'warmup': args.warmup, 'rate_hz': args.rate,
                'same_process': bool(args.same_process), 'environment': env,
                'machine': host, 'load_average_end': load_average(),
                'sizes': [r.as_dict() for r in results]}
        Path(args.json).write_text(json.dumps(data, indent=2) + '\n', encoding='utf-8')
        print(f'wrote {args.json}')
    return status


if __name__ == '__main__':
    sys.exit(child_main())
