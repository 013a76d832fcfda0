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

"""Frame sources and the image_source node, with real OpenCV, ONNX Runtime and rclpy."""

from itertools import islice
from pathlib import Path
import time
from typing import Callable
from typing import Iterator
from typing import List
from typing import Tuple

import cv2
import numpy as np
import pytest
import rclpy
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.parameter import Parameter
from rclpy.qos import qos_profile_sensor_data
from rclpy.qos import QoSProfile
from rclpy.qos import ReliabilityPolicy
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import CompressedImage
from sensor_msgs.msg import Image

from accel_ai_ros.errors import AccelAiError
from accel_ai_ros.errors import ParameterError
from accel_ai_ros.image_codec import decode_compressed_msg
from accel_ai_ros_tools.frame_sources import DigitsSource
from accel_ai_ros_tools.frame_sources import ImageFolderSource
from accel_ai_ros_tools.frame_sources import make_source
from accel_ai_ros_tools.frame_sources import TestPatternSource
from accel_ai_ros_tools.frame_sources import VideoFileSource
from accel_ai_ros_tools.image_source import ImageSource
from accel_ai_ros_tools.image_source import LABEL_MEMORY

# Measured: centre-cropped digits frames score exactly like the held-out split (0.9733).
MIN_FRAME_ACCURACY = 0.94


def _centre_crop_8x8(frame: np.ndarray) -> np.ndarray:
    """Crop the centred square, convert to grey and area-resize it to 8x8."""
    h, w = frame.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    crop = frame[top:top + side, left:left + side]
    if crop.ndim == 3:
        crop = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)
    return cv2.resize(crop, (8, 8), interpolation=cv2.INTER_AREA)


@pytest.mark.parametrize('size', [(640, 480), (300, 400), (1920, 1080)])
def test_digits_frames_have_size_and_give_the_digit_back(size: Tuple[int, int]) -> None:
    """Digits frames are HxWx3 BGR and the centre crop recovers the 8x8 digit."""
    pytest.importorskip('sklearn')
    from accel_ai_ros_tools.digits import held_out_digits
    source = DigitsSource(*size, seed=0)
    images, labels = held_out_digits(0)
    frames = list(islice(iter(source), 5))
    # Exact when the square's side is a multiple of 8, else within area-resampling error.
    tolerance = 0 if min(size) % 8 == 0 else 8
    for i, (frame, label) in enumerate(frames):
        assert frame.shape == (size[1], size[0], 3) and frame.dtype == np.uint8
        assert label == labels[i]
        assert np.abs(_centre_crop_8x8(frame).astype(int) - images[i]).max() <= tolerance
    # Ink is bright on a dark background, as the model was trained.
    assert frames[0][0][0, 0].tolist() == [0, 0, 0] and frames[0][0].max() == 255


def test_digits_frames_classified_by_the_fp32_model(tmp_path: Path) -> None:
    """The FP32 demo model labels centre-cropped digits frames correctly."""
    pytest.importorskip('sklearn')
    ort = pytest.importorskip('onnxruntime')
    pytest.importorskip('onnxconverter_common')
    from accel_ai_ros_tools.demo_models import main
    assert main(['--output-dir', str(tmp_path)]) == 0
    session = ort.InferenceSession(str(tmp_path / 'digits_fp32.onnx'),
                                   providers=['CPUExecutionProvider'])
    source = DigitsSource(640, 480)
    hits = 0
    for frame, label in islice(iter(source), len(source)):
        x = _centre_crop_8x8(frame).astype(np.float32) * (16.0 / 255.0)
        probs = session.run(['probabilities'], {'image': x.reshape(1, 1, 8, 8)})[0]
        hits += int(probs.argmax()) == label
    assert hits / len(source) >= MIN_FRAME_ACCURACY


def test_pattern_frames_move() -> None:
    """Colour bars have the right size, start white on the left and move."""
    frames = [f for f, label in islice(iter(TestPatternSource(320, 240)), 20)
              if label is None]
    assert len(frames) == 20
    assert all(f.shape == (240, 320, 3) and f.dtype == np.uint8 for f in frames)
    assert frames[0][0, 0].tolist() == [255, 255, 255]
    assert frames[0][0, 40].tolist() == [0, 255, 255]  # yellow, in BGR
    assert not np.array_equal(frames[0], frames[19])


def test_folder_source_labels_and_sizes(tmp_path: Path) -> None:
    """Images are stretched to size; integer-named parent folders become labels."""
    (tmp_path / '3').mkdir()
    (tmp_path / 'misc').mkdir()
    cv2.imwrite(str(tmp_path / '3' / 'a.png'), np.full((20, 30, 3), 200, np.uint8))
    cv2.imwrite(str(tmp_path / 'misc' / 'b.jpg'), np.full((50, 40), 90, np.uint8))
    (tmp_path / 'notes.txt').write_text('ignored')
    frames = list(islice(iter(ImageFolderSource(str(tmp_path), 64, 48)), 4))
    assert [label for _, label in frames] == [3, None, 3, None]
    assert all(f.shape == (48, 64, 3) for f, _ in frames)
    assert frames[0][0].mean() == pytest.approx(200, abs=1)


def test_video_source_reads_and_rewinds(tmp_path: Path) -> None:
    """An MJPG video is read at the requested size and loops at its end."""
    path = tmp_path / 'clip.avi'
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*'MJPG'), 10.0, (64, 48))
    assert writer.isOpened()
    for value in (0, 80, 160):
        writer.write(np.full((48, 64, 3), value, np.uint8))
    writer.release()
    frames = list(islice(iter(VideoFileSource(str(path), 32, 24)), 7))
    assert all(f.shape == (24, 32, 3) and label is None for f, label in frames)
    means = [round(float(f.mean()) / 80) for f, _ in frames]
    assert means == [0, 1, 2, 0, 1, 2, 0]


def test_source_errors_name_the_path_and_the_fix(tmp_path: Path) -> None:
    """Missing or empty folders and unreadable videos raise clear AccelAiErrors."""
    cases: List[Tuple[Callable[[], object], str]] = [
        (lambda: ImageFolderSource(str(tmp_path / 'nope'), 8, 8), 'nope'),
        (lambda: ImageFolderSource(str(tmp_path), 8, 8), str(tmp_path)),
        (lambda: VideoFileSource(str(tmp_path / 'none.mp4'), 8, 8), 'none.mp4'),
    ]
    bad = tmp_path / 'bad.avi'
    bad.write_text('not a video')
    cases.append((lambda: VideoFileSource(str(bad), 8, 8), 'bad.avi'))
    for build, name in cases:
        with pytest.raises(AccelAiError, match='set the path|put images|convert') as info:
            build()
        assert name in str(info.value)
    with pytest.raises(ParameterError, match='digits, pattern, folder, video'):
        make_source('webcam', '', 8, 8)
    with pytest.raises(ParameterError, match='positive'):
        make_source('pattern', '', 0, 8)


# ------------------------------------------------------------------------------------ node


@pytest.fixture
def context() -> Iterator[Context]:
    """Give each test its own rclpy context, shut down afterwards."""
    ctx = rclpy.Context()
    rclpy.init(context=ctx)
    try:
        yield ctx
    finally:
        ctx.try_shutdown()


def _receive(ctx: Context, node: ImageSource, wanted: int) -> List[Image]:
    """Spin the source and a real subscriber until ``wanted`` messages arrive (60 s cap)."""
    sub_node = rclpy.create_node('image_sink', context=ctx)
    got: List[Image] = []
    sub_node.create_subscription(Image, 'image', got.append, qos_profile_sensor_data)
    executor = SingleThreadedExecutor(context=ctx)
    executor.add_node(node)
    executor.add_node(sub_node)
    deadline = time.monotonic() + 60.0
    try:
        while len(got) < wanted and time.monotonic() < deadline:
            executor.spin_once(timeout_sec=0.1)
    finally:
        executor.shutdown()
        sub_node.destroy_node()
    assert len(got) >= wanted, f'received {len(got)} of {wanted} images'
    return got


def _params(**values: object) -> List[Parameter]:
    """Build parameter overrides."""
    return [Parameter(name, value=value) for name, value in values.items()]


def _pixels(msg: Image) -> np.ndarray:
    """Return a message's pixels as an HxW(xC) array, checking step and length."""
    channels = 1 if msg.encoding == 'mono8' else 3
    assert msg.step == msg.width * channels
    assert len(msg.data) == msg.step * msg.height
    data = np.frombuffer(bytes(msg.data), np.uint8)
    return data.reshape(msg.height, msg.width, channels).squeeze()


def test_node_publishes_digits_with_labels(context: Context) -> None:
    """Digits frames arrive with size, encoding, frame_id, and label_for gives their label."""
    pytest.importorskip('sklearn')
    from accel_ai_ros_tools.digits import held_out_digits
    images, labels = held_out_digits(0)
    index = {img.tobytes(): int(lab) for img, lab in zip(images, labels)}
    node = ImageSource(context=context, parameter_overrides=_params(
        source='digits', width=160, height=120, rate_hz=50.0, encoding='mono8',
        frame_id='cam_test'))
    try:
        got = _receive(context, node, 5)
        for msg in got:
            assert (msg.width, msg.height, msg.encoding) == (160, 120, 'mono8')
            assert msg.header.frame_id == 'cam_test'
            digit = _centre_crop_8x8(_pixels(msg))
            assert node.label_for(msg.header.stamp) == index[digit.tobytes()]
        assert node.published >= len(got)
        stamps = [m.header.stamp.sec * 10**9 + m.header.stamp.nanosec for m in got]
        assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    finally:
        node.destroy_node()


@pytest.mark.parametrize('encoding', ['bgr8', 'rgb8', 'mono8'])
def test_node_encodings_carry_the_right_pixels(context: Context, encoding: str) -> None:
    """Each encoding's payload is the pattern frame converted to that encoding."""
    convert = {'bgr8': lambda f: f, 'rgb8': lambda f: cv2.cvtColor(f, cv2.COLOR_BGR2RGB),
               'mono8': lambda f: cv2.cvtColor(f, cv2.COLOR_BGR2GRAY)}[encoding]
    expected = [convert(f).tobytes()
                for f, _ in islice(iter(TestPatternSource(64, 32)), 200)]
    node = ImageSource(context=context, parameter_overrides=_params(
        source='pattern', width=64, height=32, rate_hz=100.0, encoding=encoding))
    try:
        for msg in _receive(context, node, 3):
            assert msg.encoding == encoding and msg.header.frame_id == 'camera'
            assert _pixels(msg).tobytes() in expected
            assert node.label_for(msg.header.stamp) is None
    finally:
        node.destroy_node()


def test_node_stops_after_count(context: Context) -> None:
    """With count=3 the node publishes exactly three frames."""
    node = ImageSource(context=context, parameter_overrides=_params(
        source='pattern', width=16, height=16, rate_hz=200.0, count=3, wait_for_subscribers=0))
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    try:
        deadline = time.monotonic() + 30.0
        while not node.done and time.monotonic() < deadline:
            executor.spin_once(timeout_sec=0.05)
        for _ in range(10):
            executor.spin_once(timeout_sec=0.01)
        assert node.published == 3 and node.timer.is_canceled()
    finally:
        executor.shutdown()
        node.destroy_node()


def test_node_waits_for_a_subscriber_before_publishing(context: Context) -> None:
    """A counted stream at a high rate is not spent before the subscriber is discovered."""
    node = ImageSource(context=context, parameter_overrides=_params(
        source='pattern', width=16, height=16, rate_hz=500.0, count=5))
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    try:
        deadline = time.monotonic() + 0.5
        while time.monotonic() < deadline:
            executor.spin_once(timeout_sec=0.01)
        assert node.published == 0
    finally:
        executor.shutdown()
    got = _receive(context, node, 5)
    assert len(got) == node.published == 5
    node.destroy_node()


def test_label_memory_is_bounded(context: Context) -> None:
    """Old stamps are forgotten once more than LABEL_MEMORY frames were published."""
    node = ImageSource(context=context, parameter_overrides=_params(
        source='pattern', width=8, height=8, rate_hz=0.1))
    try:
        frame = np.zeros((8, 8, 3), np.uint8)
        first = node.publish_frame(frame, 7)
        assert node.label_for(first.header.stamp) == 7
        last = first
        for i in range(LABEL_MEMORY + 5):
            last = node.publish_frame(frame, i % 10)
        assert node.label_for(first.header.stamp) is None
        assert node.label_for(last.header.stamp) == (LABEL_MEMORY + 4) % 10
        assert node.published == LABEL_MEMORY + 6
    finally:
        node.destroy_node()


def test_node_rejects_bad_parameters(context: Context) -> None:
    """An unknown encoding or source raises ParameterError naming the allowed values."""
    with pytest.raises(ParameterError, match='bgr8, rgb8, mono8'):
        ImageSource(context=context, parameter_overrides=_params(encoding='yuv422'))
    with pytest.raises(ParameterError, match='digits, pattern, folder, video'):
        ImageSource(context=context, parameter_overrides=_params(source='webcam'))


def test_stand_in_publishes_compressed_reliable_frames_and_the_clock(context: Context) -> None:
    """transport, reliability and publish_clock give image_source a driver's topic and QoS."""
    node = ImageSource(context=context, parameter_overrides=_params(
        source='pattern', width=64, height=48, rate_hz=50.0, transport='compressed',
        reliability='reliable', publish_clock=True))
    listener = rclpy.create_node('listener', context=context)
    frames: List[CompressedImage] = []
    clocks: List[Clock] = []
    # A reliable subscription matches only a reliable publisher.
    listener.create_subscription(CompressedImage, 'image/compressed', frames.append,
                                 QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE))
    listener.create_subscription(Clock, '/clock', clocks.append, 10)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    executor.add_node(listener)
    try:
        deadline = time.monotonic() + 30.0
        while len(frames) < 3 and time.monotonic() < deadline:
            executor.spin_once(timeout_sec=0.05)
        assert len(frames) >= 3
        image = decode_compressed_msg(frames[-1])
        assert (image.height, image.width) == (48, 64)
        assert frames[-1].format.startswith('bgr8; jpeg compressed')
        # /clock carries the frame stamps (the last frame's may still be on its way).
        stamps = {(c.clock.sec, c.clock.nanosec) for c in clocks}
        assert (frames[0].header.stamp.sec, frames[0].header.stamp.nanosec) in stamps
    finally:
        executor.shutdown()
        listener.destroy_node()
        node.destroy_node()


def test_stand_in_rejects_unknown_qos_and_transport(context: Context) -> None:
    """Unknown reliability and transport values are refused with the allowed ones."""
    with pytest.raises(ParameterError, match='best_effort, reliable'):
        ImageSource(context=context, parameter_overrides=_params(reliability='keep_all'))
    with pytest.raises(ParameterError, match='raw, compressed'):
        ImageSource(context=context, parameter_overrides=_params(transport='theora'))


def test_v4l2_source_without_a_camera_names_the_device_and_the_fix() -> None:
    """A missing device is refused with its path and what to check."""
    with pytest.raises(AccelAiError, match=r"V4L2 device '/dev/accel_no_such_video'.*v4l2-ctl"):
        make_source('v4l2', '/dev/accel_no_such_video', 64, 48)


@pytest.mark.parametrize('gap_s', [0.0005, 0.002, 0.01])
def test_process_ends_cleanly_when_ctrl_c_comes_twice(gap_s: float) -> None:
    """Two SIGINTs close together end the process with exit code 0 and no traceback.

    The terminal's Ctrl-C and the one ros2 launch forwards arrive so; the process once raised
    KeyboardInterrupt in its clean-up.
    """
    import os
    import signal
    import subprocess
    import sys
    code = 'import sys; from accel_ai_ros_tools.image_source import main; sys.exit(main())'
    proc = subprocess.Popen(
        [sys.executable, '-c', code, '--ros-args', '-p', 'wait_for_subscribers:=0',
         '-p', 'rate_hz:=50.0', '-r', f'__ns:=/twice_{os.getpid()}'],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    started = time.monotonic()
    while time.monotonic() - started < 60.0:  # spinning once it has said where it publishes
        line = proc.stdout.readline()
        if not line or 'publishing' in line:
            break
    proc.send_signal(signal.SIGINT)
    time.sleep(gap_s)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    assert 'Traceback' not in out, out
