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

"""What /diagnostics tells an operator, end to end: real node, real DDS, real ONNX Runtime."""

import os
from pathlib import Path
import threading
import time
from typing import Any
from typing import Dict
from typing import List
from typing import Tuple

from diagnostic_msgs.msg import DiagnosticArray
from models import make_classifier
import numpy as np
import pytest
from rclpy.parameter import Parameter
from ros_harness import image_msg
from ros_harness import reliable
from ros_harness import RosHarness
from ros_harness import wait_for
from sensor_msgs.msg import Image

pytest.importorskip('vision_msgs.msg', reason='vision_msgs is not built: run scripts/setup.sh')

from accel_ai_ros.node import InferenceNode  # noqa: E402

OK, WARN, ERROR = 0, 1, 2


class DiagnosticsWatch:
    """Keep every /diagnostics status of one node, in arrival order."""

    def __init__(self, ros: RosHarness, ns: str) -> None:
        self._ns = ns
        self._lock = threading.Lock()
        self.statuses: List[Tuple[int, str, Dict[str, str]]] = []
        node = ros.node(f'diag_watch{ns.replace("/", "_")}')
        node.create_subscription(DiagnosticArray, '/diagnostics', self._on_msg, reliable())

    def _on_msg(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            if status.name.startswith(f'{self._ns}/'):
                with self._lock:
                    self.statuses.append((status.level[0], status.message,
                                          {kv.key: kv.value for kv in status.values}))

    def latest(self) -> Tuple[int, str, Dict[str, str]]:
        with self._lock:
            return self.statuses[-1] if self.statuses else (-1, '', {})

    def wait_level(self, level: int, processed: int = -1,
                   timeout: float = 15.0) -> Tuple[int, str, Dict[str, str]]:
        """Wait for a status of ``level`` (that counts ``processed`` frames, when given)."""
        def seen() -> bool:
            got, _, values = self.latest()
            return got == level and (processed < 0 or
                                     values.get('frames processed') == str(processed))
        assert wait_for(seen, timeout=timeout), (level, self.statuses[-5:])
        return self.latest()


def start_node(ros: RosHarness, tmp_path: Path, **overrides: Any) -> Tuple[InferenceNode, str,
                                                                           Any]:
    """Start a classifier node in a fresh namespace; return it, the namespace, a publisher."""
    ns = f'/health{os.getpid()}_{len(ros.nodes)}'
    params = {'engines.fp32': str(make_classifier(tmp_path / 'a.onnx', seed=0)),
              'resize_mode': 'stretch', 'diagnostics_period_s': 0.2}
    params.update(overrides)
    node = ros.add(InferenceNode(namespace=ns, context=ros.context, parameter_overrides=[
        Parameter(k, value=v) for k, v in params.items()]))
    pub = ros.node(f'camera{ns.replace("/", "_")}').create_publisher(
        Image, f'{ns}/image', reliable(10))
    assert wait_for(lambda: node._subscription is not None and pub.get_subscription_count() > 0)
    return node, ns, pub


def frame(seed: int = 0, good: bool = True) -> Image:
    msg = image_msg(np.random.default_rng(seed).integers(0, 255, (48, 64, 3), np.uint8))
    if not good:
        msg.encoding = '32FC7'
    return msg


def send(node: InferenceNode, pub: Any, frames: List[Image]) -> None:
    """Publish frames one at a time, each taken in before the next (none overtaken)."""
    for msg in frames:
        before = node.counters.get('received')
        pub.publish(msg)
        assert wait_for(lambda: node.counters.get('received') > before, timeout=5.0)
        assert node._pipeline.wait_idle(5.0)


def test_failed_share_warns_then_errors_with_the_reason_and_recovers(ros, tmp_path):
    node, ns, pub = start_node(ros, tmp_path)
    watch = DiagnosticsWatch(ros, ns)
    send(node, pub, [frame(i) for i in range(4)])
    level, message, values = watch.wait_level(OK, processed=4)
    assert message == 'running fp32'
    # 3 of 15 rejected (20 %): WARN, naming the last reason.
    send(node, pub, [frame(i, good=i % 4 != 0) for i in range(11)])
    level, message, values = watch.wait_level(WARN)
    assert 'of frames failed or were rejected' in message and '32FC7' in message, message
    assert '32FC7' in values['last failure']
    # Mostly rejected now: ERROR.
    send(node, pub, [frame(i, good=False) for i in range(15)])
    level, message, values = watch.wait_level(ERROR)
    assert 'failed or were rejected' in message
    # Frames succeed again: back to OK without waiting for the window to pass.
    send(node, pub, [frame(i) for i in range(6)])
    level, message, values = watch.wait_level(OK, processed=18, timeout=5.0)
    assert message == 'running fp32'


def test_a_stalled_stream_turns_error_and_recovers(ros, tmp_path):
    node, ns, pub = start_node(ros, tmp_path, no_image_error_s=1.5)
    watch = DiagnosticsWatch(ros, ns)
    send(node, pub, [frame(i) for i in range(3)])
    level, message, values = watch.wait_level(OK, processed=3)
    stalled_at = time.monotonic()
    level, message, values = watch.wait_level(ERROR)
    assert time.monotonic() - stalled_at >= 1.0
    assert message.startswith('no image for ') and '(no_image_error_s 1.5)' in message
    send(node, pub, [frame(9)])
    watch.wait_level(OK, processed=4, timeout=5.0)
    # The per-stage breakdown, in milliseconds, and monitoring that says what it lacks.
    values = watch.latest()[2]
    for key in ('wait p99 ms', 'preprocessing p50 ms', 'inference p50 ms',
                'postprocessing p50 ms', 'publishing p50 ms', 'receipt to publish p99 ms'):
        assert float(values[key]) >= 0.0, key
    assert float(values['process rss MB']) > 10.0 and 'system cpu %' in values
    if 'gpu monitoring' in values:                 # no GPU or no NVML here
        assert values['gpu monitoring'].startswith('absent: ')
        assert not [k for k in values if k.startswith('gpu ') and k != 'gpu monitoring']
    else:
        assert float(values['gpu memory total MB']) > 0.0


def test_transport_time_comes_from_the_header_stamp(ros, tmp_path):
    node, ns, pub = start_node(ros, tmp_path)
    watch = DiagnosticsWatch(ros, ns)
    stamp = node.get_clock().now().nanoseconds - 250_000_000   # taken 250 ms ago
    msg = frame(1)
    msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp, 1_000_000_000)
    send(node, pub, [msg])
    assert wait_for(lambda: 'transport (stamp to receipt) p50 ms' in watch.latest()[2])
    transport = float(watch.latest()[2]['transport (stamp to receipt) p50 ms'])
    assert 250.0 <= transport < 5000.0
