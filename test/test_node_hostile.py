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

"""Hostile input against a running node: real rclpy, DDS on loopback, real ONNX Runtime."""

import resource
import time
from typing import Any
from typing import Dict

import cv2
from hostile_images import png_bomb
from models import make_bright_nan_model
from models import make_identity_model
import numpy as np
import pytest
from rclpy.parameter import Parameter
from ros_harness import image_msg
from ros_harness import reliable
from ros_harness import RosHarness
from ros_harness import unique_ns
from ros_harness import wait_for
from sensor_msgs.msg import CompressedImage
from sensor_msgs.msg import Image

pytest.importorskip('vision_msgs.msg', reason='vision_msgs is not built: run scripts/setup.sh')

from accel_ai_ros.node import InferenceNode  # noqa: E402


def start_node(ros: RosHarness, engines: Dict[str, str], **extra: Any) -> InferenceNode:
    """Create and add an inference node for the test classifiers in a fresh namespace."""
    params = {'engines.fp32': engines['fp32'], 'engines.fp16': engines['fp16'],
              'resize_mode': 'stretch', 'task': 'classification', 'top_k': 3}
    params.update(extra)
    overrides = [Parameter(k, value=v) for k, v in params.items()]
    return ros.add(InferenceNode(namespace=unique_ns('hostile'), context=ros.context,
                                 parameter_overrides=overrides))


def jpeg_msg(seed: int = 0) -> CompressedImage:
    """Return a small valid JPEG CompressedImage."""
    pixels = np.random.default_rng(seed).integers(0, 255, (48, 64, 3), dtype=np.uint8)
    ok, data = cv2.imencode('.jpg', pixels)
    assert ok
    return CompressedImage(format='jpeg', data=data.tobytes())


def peak_rss_mb() -> float:
    """Return this process's peak resident memory in MB (Linux reports kB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def test_a_decompression_bomb_is_rejected_within_the_memory_goal(ros, engines, capfd):
    node = start_node(ros, engines, input_transport='compressed')
    pub = ros.node('bomber').create_publisher(
        CompressedImage, f'{node.get_namespace()}/image/compressed', reliable(10))
    assert wait_for(lambda: pub.get_subscription_count() > 0)
    for seed in range(3):
        pub.publish(jpeg_msg(seed))
        assert wait_for(lambda: node.counters.get('processed') == seed + 1)
    bomb = CompressedImage(format='png', data=png_bomb(30000, 30000))  # 900 megapixels
    peak_before = peak_rss_mb()
    pub.publish(bomb)
    assert wait_for(lambda: node.counters.get('rejected') == 1, timeout=20.0)
    pub.publish(jpeg_msg(9))
    assert wait_for(lambda: node.counters.get('processed') == 4)
    grown = peak_rss_mb() - peak_before
    assert grown < 100.0, f'peak resident memory grew {grown:.0f} MB'
    counts = node.counters.snapshot()
    assert counts['failed'] == 0 and node.counters.unaccounted() == 0, counts
    lines = [line for line in capfd.readouterr().err.splitlines() if 'frame rejected' in line]
    assert len(lines) == 1, lines
    assert '30000x30000' in lines[0] and 'max_image_pixels' in lines[0]


def test_raw_images_over_the_limit_are_rejected(ros, engines):
    node = start_node(ros, engines, max_image_pixels=48 * 64 - 1)
    pub = ros.node('raw_pub').create_publisher(
        Image, f'{node.get_namespace()}/image', reliable(10))
    assert wait_for(lambda: pub.get_subscription_count() > 0)
    pixels = np.zeros((48, 64, 3), np.uint8)
    pub.publish(image_msg(pixels, 'rgb8'))
    assert wait_for(lambda: node.counters.get('rejected') == 1)
    node.set_parameters([Parameter('max_image_pixels', value=48 * 64)])
    pub.publish(image_msg(pixels, 'rgb8'))
    assert wait_for(lambda: node.counters.get('processed') == 1)


def test_a_swap_to_an_unusable_model_is_refused_and_the_old_engine_keeps_serving(
        ros, engines, tmp_path, capfd):
    flat = make_identity_model(tmp_path / 'flat.onnx', shape=(1, 64))  # not an image model
    node = start_node(ros, {'fp32': engines['fp32'], 'fp16': str(flat)})
    pub = ros.node('swap_pub').create_publisher(
        Image, f'{node.get_namespace()}/image', reliable(10))
    assert wait_for(lambda: pub.get_subscription_count() > 0)
    frame = image_msg(np.zeros((48, 64, 3), np.uint8), 'rgb8')
    pub.publish(frame)
    assert wait_for(lambda: node.counters.get('processed') == 1)
    capfd.readouterr()
    assert node.set_parameters([Parameter('precision', value='fp16')])[0].successful
    said = []

    def refused() -> bool:
        said.append(capfd.readouterr().err)
        return node.get_parameter('precision').value == 'fp32' and 'keeps serving' in ''.join(
            said)
    assert wait_for(refused, timeout=20.0), ''.join(said)
    text = ''.join(said)
    assert 'loading fp16 failed' in text and 'flat.onnx' in text and '4-D' in text, text
    assert 'now running fp16' not in text, text
    pub.publish(frame)
    assert wait_for(lambda: node.counters.get('processed') == 2)
    assert node.counters.get('failed') == 0


def test_bad_frames_are_logged_once_per_kind_and_cannot_forge_log_lines(ros, engines, capfd):
    node = start_node(ros, engines)
    pub = ros.node('noisy_pub').create_publisher(
        Image, f'{node.get_namespace()}/image', reliable(100))
    assert wait_for(lambda: pub.get_subscription_count() > 0)
    capfd.readouterr()
    forged = image_msg(np.zeros((4, 4, 3), np.uint8), 'rgb8')
    forged.encoding = 'rgb8\n[ERROR] [inference_node]: forged' + 'x' * 1000
    for n in range(40):        # truncated frames, each with a different size in its message
        msg = image_msg(np.zeros((48, 64 + n, 3), np.uint8), 'rgb8')
        msg.data = msg.data[:100 + n]
        pub.publish(msg)
        pub.publish(forged)
        time.sleep(0.01)       # the subscription is best-effort: a pace it keeps up with
    assert wait_for(lambda: node.counters.get('rejected') >= 20
                    and node.counters.unaccounted() == 0, timeout=20.0)
    time.sleep(0.5)
    lines = capfd.readouterr().err.splitlines()
    short = [line for line in lines if 'bytes are needed' in line]
    encoding = [line for line in lines if 'unsupported image encoding' in line]
    assert len(short) == 1 and len(encoding) == 1, lines
    assert not any(line.startswith('[ERROR] [inference_node]: forged') for line in lines), lines
    assert '\\n[ERROR]' in encoding[0] and 'more characters' in encoding[0], encoding
    assert len(encoding[0]) < 1500, encoding


def test_non_finite_outputs_are_counted_failed_with_one_warning_naming_the_output(
        ros, engines, tmp_path, capfd):
    model = make_bright_nan_model(tmp_path / 'nan.onnx')
    node = start_node(ros, {'fp32': str(model), 'fp16': engines['fp16']})
    pub = ros.node('nan_pub').create_publisher(
        Image, f'{node.get_namespace()}/image', reliable(10))
    assert wait_for(lambda: pub.get_subscription_count() > 0)
    capfd.readouterr()
    for n in range(5):
        pub.publish(image_msg(np.full((48, 64, 3), 250, np.uint8), 'rgb8'))
        assert wait_for(lambda: node.counters.get('failed') == n + 1)
    pub.publish(image_msg(np.full((48, 64, 3), 10, np.uint8), 'rgb8'))
    assert wait_for(lambda: node.counters.get('processed') == 1)
    lines = [line for line in capfd.readouterr().err.splitlines() if 'NaN' in line]
    assert len(lines) == 1 and "output 'scores'" in lines[0], lines


def test_an_integer_for_a_float_parameter_is_taken_at_run_time(ros, engines):
    node = start_node(ros, engines)
    result = node.set_parameters([Parameter('score_threshold', value=1)])[0]
    assert result.successful, result.reason
    assert node.get_parameter('score_threshold').value == 1.0
