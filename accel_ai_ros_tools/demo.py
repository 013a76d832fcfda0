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

"""The demo: a camera stream run live, with accuracy, latency and precision swaps.

One process holds three nodes on one executor, the composition ``launch`` would start on a
robot: ``image_source`` publishes frames at a set rate and size, the ``inference_node`` runs
the engine for the current precision, and a monitor prints a line a second and switches
``precision`` through the node's parameter callback (as ``ros2 param set`` does).

By default the frames are held-out handwritten digits and the model is the demo's digit
classifier, so each result is scored against the ground truth the source knows. With
``--params-file`` (and ``--model-dir``) any model runs instead, for example a detector
(``config/yolo.yaml`` for an Ultralytics export), on a video file or an image folder
(``--source video|folder --path ...``); ``--save-annotated DIR`` writes what
``~/image_annotated`` shows, one image a second.
"""

import argparse
from dataclasses import dataclass
from dataclasses import field
import os
from pathlib import Path
import sys
import threading
import time
from typing import Any
from typing import Dict
from typing import List
from typing import Optional
from typing import Sequence

import cv2
import numpy as np
import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image
from std_msgs.msg import Float32

from accel_ai_ros.errors import AccelAiError
from accel_ai_ros.node import InferenceNode
from accel_ai_ros.params import configured_precisions
from accel_ai_ros.params import values_from_file
from accel_ai_ros.tasks.registry import task_named
from accel_ai_ros_tools import demo_models
from accel_ai_ros_tools.environment import configure_dds_environment
from accel_ai_ros_tools.environment import find_config
from accel_ai_ros_tools.frame_sources import SOURCE_KINDS
from accel_ai_ros_tools.image_source import ImageSource


def require_config(name: str) -> Path:
    """Return config/<name> (installed share folder first), or say how to get it."""
    path = find_config(name)
    if path is None:
        raise AccelAiError(f'config/{name} not found; reinstall accel_ai_ros (scripts/setup.sh)')
    return path


@dataclass
class PrecisionScore:
    """Counts and latencies gathered while one precision served."""

    frames: int = 0
    correct: int = 0
    scored: int = 0
    latencies: List[float] = field(default_factory=list)

    def line(self) -> str:
        """Return 'accuracy ... | latency ...' for this precision."""
        acc = f'{100.0 * self.correct / self.scored:5.1f}%' if self.scored else '   n/a'
        if self.latencies:
            p50, p99 = np.percentile(self.latencies, [50, 99])
            lat = f'p50 {p50:6.2f} ms  p99 {p99:6.2f} ms'
        else:
            lat = 'no samples'
        return f'accuracy {acc} ({self.correct}/{self.scored}) | latency {lat}'


class DemoMonitor(Node):
    """Score results against the source's ground truth and switch precision on a schedule."""

    def __init__(self, source: ImageSource, inference: InferenceNode,
                 precisions: Sequence[str], switch_every_s: float, task: str,
                 save_annotated: Optional[Path] = None, **kwargs: object) -> None:
        """Subscribe to the inference node's results, latency and annotated images."""
        super().__init__('demo_monitor', **kwargs)  # type: ignore[arg-type]
        self._source = source
        self._inference = inference
        self._precisions = list(precisions)
        self._switch_every_s = switch_every_s
        self._lock = threading.Lock()
        self.scores: Dict[str, PrecisionScore] = {}
        self._window = PrecisionScore()
        self._started = time.monotonic()
        self._next_switch = self._started + switch_every_s
        self._switch_index = 0
        prefix = inference.get_fully_qualified_name()
        self._task = task
        msg_type: Any = task_named(task).message_type()
        if msg_type is not None:
            self.create_subscription(msg_type, f'{prefix}/results', self._on_result, 50)
        self._save_annotated = save_annotated
        self._saved_at = 0.0
        if save_annotated is not None:
            save_annotated.mkdir(parents=True, exist_ok=True)
            self.create_subscription(Image, f'{prefix}/image_annotated', self._on_annotated,
                                     qos_profile_sensor_data)
        self.create_subscription(Float32, f'{prefix}/latency', self._on_latency, 50)
        self.create_timer(1.0, self._tick)

    def _current(self) -> str:
        return str(self._inference.get_parameter('precision').value)

    def _score(self) -> PrecisionScore:
        return self.scores.setdefault(self._current(), PrecisionScore())

    def _on_result(self, msg: object) -> None:
        label = self._source.label_for(msg.header.stamp)  # type: ignore[attr-defined]
        results = getattr(msg, 'results', None)  # classification only: scored
        with self._lock:
            for score in (self._score(), self._window):
                score.frames += 1
                if label is not None and results:
                    score.scored += 1
                    score.correct += int(results[0].class_id == str(label))

    def _on_annotated(self, msg: Image) -> None:
        now = time.monotonic()
        if self._save_annotated is None or now - self._saved_at < 1.0:
            return
        self._saved_at = now
        pixels = np.frombuffer(bytes(msg.data), dtype=np.uint8).reshape(
            msg.height, msg.step)[:, :msg.width * 3].reshape(msg.height, msg.width, 3)
        name = f'annotated_{msg.header.stamp.sec}_{msg.header.stamp.nanosec:09d}.jpg'
        cv2.imwrite(str(self._save_annotated / name), pixels)

    def _on_latency(self, msg: Float32) -> None:
        with self._lock:
            self._score().latencies.append(msg.data)
            self._window.latencies.append(msg.data)

    def _tick(self) -> None:
        counters = self._inference.counters.snapshot()
        with self._lock:
            window, self._window = self._window, PrecisionScore()
        elapsed = time.monotonic() - self._started
        dropped = sum(v for k, v in counters.items() if k.startswith('dropped'))
        print(f'[{elapsed:5.1f} s] {self._current():4s} | {window.frames:3d} results/s | '
              f'{window.line()} | published {self._source.published} received '
              f'{counters.get("received", 0)} dropped {dropped} rejected '
              f'{counters.get("rejected", 0)}', flush=True)
        if self._precisions and time.monotonic() >= self._next_switch:
            self._switch_index = (self._switch_index + 1) % len(self._precisions)
            target = self._precisions[self._switch_index]
            self._next_switch += self._switch_every_s
            print(f'--- ros2 param set {self._inference.get_fully_qualified_name()} precision '
                  f'{target}', flush=True)
            result = self._inference.set_parameters([Parameter('precision', value=target)])
            if not result[0].successful:
                print(f'    refused: {result[0].reason}', flush=True)


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    """Parse the demo's command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--models', default=os.environ.get('ACCEL_AI_DEMO_MODELS', 'models/demo'),
                        help='folder of the demo models (built there when missing)')
    parser.add_argument('--duration', type=float, default=24.0, help='seconds to run')
    parser.add_argument('--switch-every', type=float, default=8.0,
                        help='seconds between precision switches')
    parser.add_argument('--precisions', default='fp32,fp16,int8',
                        help='precisions to cycle through, comma-separated')
    parser.add_argument('--width', type=int, default=640)
    parser.add_argument('--height', type=int, default=480)
    parser.add_argument('--rate', type=float, default=30.0, help='frames per second')
    parser.add_argument('--params-file', default='',
                        help='node parameters of another model, e.g. the installed '
                             'config/yolo.yaml (default: config/demo.yaml, the digits)')
    parser.add_argument('--model-dir', default='',
                        help='folder the --params-file engines are in')
    parser.add_argument('--source', default='digits', choices=SOURCE_KINDS,
                        help='frames: digits (labelled), pattern, folder, video or v4l2')
    parser.add_argument('--path', default='',
                        help='the image folder, video file or camera device of --source')
    parser.add_argument('--save-annotated', default='', metavar='DIR',
                        help='write one annotated frame (~/image_annotated) a second to DIR')
    return parser.parse_args(argv)


def precisions_that_run(precisions: Sequence[str], duration_s: float,
                        switch_every_s: float) -> List[str]:
    """Return the precisions the schedule reaches within the duration, in order."""
    switches = int(duration_s // switch_every_s) if switch_every_s > 0 else 0
    return list(precisions[:1 + switches])


def run(args: argparse.Namespace) -> int:
    """Build models if needed, run the three nodes, print the summary."""
    if args.params_file:
        params_file = Path(args.params_file).expanduser().resolve()
        models = Path(args.model_dir or '.').expanduser().resolve()
        values = values_from_file(params_file)
        configured = configured_precisions(values)
        precisions = [p for p in args.precisions.split(',') if p in configured] or configured
    else:
        params_file = require_config('demo.yaml')
        models = Path(args.models).resolve()
        if not (models / 'digits_fp32.onnx').is_file():
            print(f'building the demo models in {models}', flush=True)
            if demo_models.main(['--output-dir', str(models)]) != 0:
                return 1
        values = values_from_file(params_file)
        precisions = [p for p in args.precisions.split(',') if p]
    if not precisions:
        raise AccelAiError(f'{params_file} configures no engine; set engines.fp32 in it')
    configure_dds_environment()  # loopback only, large-frame profile, unless set already
    ros_args = ['--ros-args', '--params-file', str(params_file),
                '-p', f'model_dir:={models}', '-p', f'precision:={precisions[0]}']
    if args.save_annotated:
        ros_args += ['-p', 'publish_annotated:=true']
    context = rclpy.Context()
    rclpy.init(args=ros_args, context=context)
    # One executor thread is enough: inference runs on the node's own worker thread.
    executor = SingleThreadedExecutor(context=context)
    nodes: List[Node] = []
    try:
        source = ImageSource(context=context, parameter_overrides=[
            Parameter('width', value=args.width), Parameter('height', value=args.height),
            Parameter('rate_hz', value=args.rate), Parameter('source', value=args.source),
            Parameter('path', value=args.path)])
        inference = InferenceNode(context=context)
        monitor = DemoMonitor(
            source, inference, precisions, args.switch_every, str(values['task']),
            Path(args.save_annotated).resolve() if args.save_annotated else None,
            context=context)
        nodes = [source, inference, monitor]
        for node in nodes:
            executor.add_node(node)
        shown = precisions_that_run(precisions, args.duration, args.switch_every)
        print(f'demo: {args.width}x{args.height} {args.source} at {args.rate:g} Hz for '
              f'{args.duration:g} s, precisions {", ".join(shown)}', flush=True)
        end = time.monotonic() + args.duration
        while context.ok() and time.monotonic() < end:
            executor.spin_once(timeout_sec=0.1)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        for node in reversed(nodes):
            executor.remove_node(node)
            node.destroy_node()
        executor.shutdown()
        rclpy.try_shutdown(context=context)
    if nodes:
        print('\nsummary (this machine):')
        for precision, score in monitor.scores.items():
            print(f'  {precision:4s} {score.frames:5d} results | {score.line()}')
        counters = inference.counters.snapshot()
        print('  frames: ' + ', '.join(f'{k} {v}' for k, v in counters.items()))
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the demo; exit 1 with a one-line message on a known error."""
    try:
        return run(parse_args(argv))
    except AccelAiError as exc:
        print(f'demo: error: {exc}', file=sys.stderr)
        return 1


if __name__ == '__main__':
    sys.exit(main())
