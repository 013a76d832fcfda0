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

"""Calibration frames preprocessed exactly as the node does, and the calibration cache.

Frames come from an image folder, a video file, a rosbag2 folder or a live image topic, as
:class:`~accel_ai_ros.image_codec.DecodedImage` values at their own size; each one goes
through :class:`~accel_ai_ros.preprocess.CpuPreprocessor` with the
:class:`~accel_ai_ros.preprocess.PreprocessSpec` the node would build from the same
parameters (:func:`accel_ai_ros.params.values_from_file`, :func:`spec_from_params`), so the
ranges are measured on the tensors the deployed model will see.

:class:`CalibrationCache` keeps the activation ranges that ONNX Runtime's calibrator
computes (its own ``TensorsData`` JSON), keyed by the calibrated model's hash, the method
and the preprocessing, so quantizing again with other options needs no frames.
"""

import hashlib
import json
from pathlib import Path
import time
from typing import Any
from typing import Dict
from typing import Iterator
from typing import List
from typing import Mapping
from typing import Optional
from typing import Sequence

import cv2
import numpy as np

from accel_ai_ros.fileio import atomic_write
from accel_ai_ros.image_codec import decode_compressed_msg
from accel_ai_ros.image_codec import decode_image_msg
from accel_ai_ros.image_codec import DecodedImage
from accel_ai_ros.params import defaults
from accel_ai_ros.preprocess import CpuPreprocessor
from accel_ai_ros.preprocess import PreprocessSpec
from accel_ai_ros.preprocess import spec_from_tensor
from accel_ai_ros_tools.variants import VariantError

SOURCE_KINDS = ('images', 'video', 'bag', 'topic')
IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')
CACHE_FORMAT = 1
_IMAGE_TYPES = ('sensor_msgs/msg/Image', 'sensor_msgs/msg/CompressedImage')


def spec_from_params(values: Mapping[str, Any], input_shape: Sequence[Any],
                     input_dtype: Any = 'float32') -> PreprocessSpec:
    """Build the node's :class:`PreprocessSpec` for a model input from parameter values."""
    merged = defaults()
    merged.update(values)
    height, width = int(merged['input_height']), int(merged['input_width'])
    fallback = (height, width) if height > 0 and width > 0 else None
    return spec_from_tensor(
        input_shape, input_dtype, resize_mode=merged['resize_mode'],
        channel_order=merged['channel_order'], scale=float(merged['scale']),
        mean=merged['mean'], std=merged['std'], layout=merged['tensor_layout'],
        pad_value=int(merged['pad_value']), fallback_size=fallback)


def preprocessing_dict(spec: PreprocessSpec) -> Dict[str, Any]:
    """Return the manifest's preprocessing fields (every field but height and width)."""
    return {'resize_mode': spec.resize_mode, 'channel_order': spec.channel_order,
            'scale': spec.scale, 'mean': list(spec.mean), 'std': list(spec.std),
            'layout': spec.layout, 'pad_value': spec.pad_value}


# -- frame sources ------------------------------------------------------------------------
def _bgr(pixels: np.ndarray) -> DecodedImage:
    if pixels.ndim == 2:
        return DecodedImage(np.ascontiguousarray(pixels), 'mono')
    return DecodedImage(np.ascontiguousarray(pixels), 'bgr')


def iter_image_folder(path: Path) -> Iterator[DecodedImage]:
    """Yield every readable image under ``path`` (sorted, recursive), at its own size."""
    root = Path(path).expanduser()
    if not root.is_dir():
        raise VariantError(f'calibration image folder {root} does not exist; give a folder '
                           f'of .jpg/.png images like those the camera sees')
    files = sorted(p for p in root.rglob('*')
                   if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise VariantError(f'calibration image folder {root} holds no images '
                           f'({", ".join(IMAGE_SUFFIXES)}); put a few hundred camera frames '
                           f'in it')
    return _read_images(files)


def _read_images(files: Sequence[Path]) -> Iterator[DecodedImage]:
    for file in files:
        pixels = cv2.imread(str(file), cv2.IMREAD_UNCHANGED)
        if pixels is None or pixels.dtype != np.uint8:
            continue
        if pixels.ndim == 3 and pixels.shape[2] == 4:
            yield DecodedImage(np.ascontiguousarray(pixels), 'bgra')
        else:
            yield _bgr(pixels)


def iter_video(path: Path) -> Iterator[DecodedImage]:
    """Yield the frames of a video file OpenCV can decode, once, at their own size."""
    file = Path(path).expanduser()
    if not file.is_file():
        raise VariantError(f'calibration video {file} does not exist; give a video file '
                           f'OpenCV can read (e.g. .mp4, .avi)')
    capture = cv2.VideoCapture(str(file))
    if not capture.isOpened():
        capture.release()
        raise VariantError(f'OpenCV cannot open the calibration video {file}; convert it '
                           f'to an MJPG .avi or H.264 .mp4 (e.g. with ffmpeg)')
    return _read_video(capture)


def _read_video(capture: Any) -> Iterator[DecodedImage]:
    try:
        while True:
            ok, frame = capture.read()
            if not ok or frame is None:
                return
            yield _bgr(frame)
    finally:
        capture.release()


def iter_bag(path: Path, topic: Optional[str] = None) -> Iterator[DecodedImage]:
    """
    Yield the images of a rosbag2 folder (sensor_msgs Image or CompressedImage).

    Reads with ``rosbag2_py`` (part of a ROS 2 install). ``topic`` picks one image topic;
    by default the first one found.
    """
    folder = Path(path).expanduser()
    if not folder.exists():
        raise VariantError(f'rosbag2 folder {folder} does not exist; record one with: ros2 bag '
                           f'record /camera/image_raw')
    try:
        from rclpy.serialization import deserialize_message
        import rosbag2_py
        from sensor_msgs.msg import CompressedImage
        from sensor_msgs.msg import Image
    except ImportError as exc:
        raise VariantError(
            f'reading a rosbag2 needs rosbag2_py, rclpy and sensor_msgs ({exc}); source a '
            f'ROS 2 install (apt install ros-$ROS_DISTRO-rosbag2-py), or export the frames '
            f'to a folder and use --calibration-images') from None
    reader = rosbag2_py.SequentialReader()
    try:
        reader.open(rosbag2_py.StorageOptions(uri=str(folder)),
                    rosbag2_py.ConverterOptions('', ''))
    except RuntimeError as exc:
        raise VariantError(f'cannot open the rosbag2 {folder} ({exc})') from None
    types = {t.name: t.type for t in reader.get_all_topics_and_types()}
    images = [name for name, kind in types.items() if kind in _IMAGE_TYPES]
    if topic is not None and topic not in images:
        raise VariantError(f'the bag {folder} has no image topic {topic}; its image topics: '
                           f'{", ".join(images) or "none"}')
    if not images:
        raise VariantError(f'the bag {folder} holds no sensor_msgs Image or CompressedImage '
                           f'topic')
    chosen = topic or images[0]
    reader.set_filter(rosbag2_py.StorageFilter(topics=[chosen]))
    compressed = types[chosen].endswith('CompressedImage')
    kind = CompressedImage if compressed else Image
    return _read_bag(reader, kind, deserialize_message, compressed)


def _read_bag(reader: Any, kind: Any, deserialize: Any,
              compressed: bool) -> Iterator[DecodedImage]:
    while reader.has_next():
        _, data, _ = reader.read_next()
        msg = deserialize(data, kind)
        yield decode_compressed_msg(msg) if compressed else decode_image_msg(msg)


def capture_topic(topic: str, count: int, timeout_s: float = 30.0) -> List[DecodedImage]:
    """
    Subscribe to a live image topic with sensor-data QoS and return ``count`` frames.

    A topic whose name ends in ``/compressed`` is read as sensor_msgs/CompressedImage.
    Raises :class:`VariantError` when ``count`` frames do not arrive within ``timeout_s``.
    """
    try:
        import rclpy
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.qos import qos_profile_sensor_data
        from sensor_msgs.msg import CompressedImage
        from sensor_msgs.msg import Image
    except ImportError as exc:
        raise VariantError(f'capturing from a topic needs rclpy and sensor_msgs ({exc}); '
                           f'source a ROS 2 install') from None
    compressed = topic.rstrip('/').endswith('/compressed')
    frames: List[DecodedImage] = []
    context = rclpy.Context()
    rclpy.init(context=context)
    try:
        node = rclpy.create_node('accel_ai_variants_calibration', context=context)

        def on_image(msg: Any) -> None:
            if len(frames) < count:
                frames.append(decode_compressed_msg(msg) if compressed
                              else decode_image_msg(msg))

        node.create_subscription(CompressedImage if compressed else Image, topic, on_image,
                                 qos_profile_sensor_data)
        executor = SingleThreadedExecutor(context=context)
        executor.add_node(node)
        deadline = time.monotonic() + timeout_s
        while len(frames) < count and time.monotonic() < deadline:
            executor.spin_once(timeout_sec=0.1)
        node.destroy_node()
    finally:
        rclpy.shutdown(context=context)
    if len(frames) < count:
        raise VariantError(f'only {len(frames)} of {count} frames arrived on {topic} within '
                           f'{timeout_s:g} s; check that the camera publishes (ros2 topic hz '
                           f'{topic}), or lower --calibration-count')
    return frames


def open_source(kind: str, location: str, count: int,
                timeout_s: float = 30.0) -> Iterator[DecodedImage]:
    """Return the frames of source ``kind`` ('images', 'video', 'bag' or 'topic')."""
    if kind == 'images':
        return iter_image_folder(Path(location))
    if kind == 'video':
        return iter_video(Path(location))
    if kind == 'bag':
        return iter_bag(Path(location))
    if kind == 'topic':
        return iter(capture_topic(location, count, timeout_s))
    raise VariantError(f'calibration source {kind!r} is unknown; use one of '
                       f'{", ".join(SOURCE_KINDS)}')


class CalibrationReader:
    """
    ONNX Runtime's calibration data reader over preprocessed frames.

    Has ``get_next()`` (a ``CalibrationDataReader`` by ONNX Runtime's own subclass hook):
    each call preprocesses the next frame with :class:`CpuPreprocessor` and returns
    ``{input_name: tensor}``, until ``count`` frames were given or the source ends.
    ``calls`` counts the calls, ``frames`` the tensors given. With ``holdout_every`` k > 1,
    every k-th frame of the source (1-based: k, 2k, ...) is kept out of calibration, in
    ``held_out`` (tensor and transform) and ``held_out_frames`` (its number), for the
    accuracy check; ``count`` counts the calibration frames only.
    """

    def __init__(self, frames: Iterator[DecodedImage], spec: PreprocessSpec,
                 input_name: str, count: int = 200, holdout_every: int = 0) -> None:
        if count < 1:
            raise VariantError(f'the calibration count must be at least 1, got {count}')
        if holdout_every < 0 or holdout_every == 1:
            raise VariantError(f'holdout_every must be 0 (none) or at least 2, got '
                               f'{holdout_every}')
        self._frames = iter(frames)
        self._pre = CpuPreprocessor(spec)
        self.input_name = input_name
        self.count = int(count)
        self.holdout_every = int(holdout_every)
        self.calls = 0
        self.frames = 0
        self.seen = 0
        self.held_out: List[Any] = []
        self.held_out_frames: List[int] = []

    def get_next(self) -> Optional[Dict[str, np.ndarray]]:
        """Return the next preprocessed frame as a feed dict, or None at the end."""
        self.calls += 1
        while self.frames < self.count:
            image = next(self._frames, None)
            if image is None:
                break
            self.seen += 1
            tensor, transform = self._pre(image)
            if self.holdout_every and self.seen % self.holdout_every == 0:
                self.held_out.append((tensor, transform))
                self.held_out_frames.append(self.seen)
                continue
            self.frames += 1
            return {self.input_name: tensor}
        if self.frames == 0:
            raise VariantError('the calibration source gave no decodable frame; check '
                               'that its images or video are readable')
        return None


# -- cache --------------------------------------------------------------------------------
def model_hash(model_bytes: bytes) -> str:
    """Return the SHA-256 of a serialized model."""
    return hashlib.sha256(model_bytes).hexdigest()


def cache_key(model_sha256: str, method: str, spec: PreprocessSpec,
              options: Optional[Mapping[str, Any]] = None) -> str:
    """Return the cache key: a hash of the model hash, method, preprocessing and options."""
    payload = {'model': model_sha256, 'method': method,
               'preprocessing': dict(preprocessing_dict(spec), height=spec.height,
                                     width=spec.width, dtype=spec.dtype),
               'options': dict(options or {})}
    text = json.dumps(payload, sort_keys=True, separators=(',', ':'))
    return hashlib.sha256(text.encode('utf-8')).hexdigest()


class CalibrationCache:
    """
    A JSON file of activation ranges, one entry per :func:`cache_key`.

    ``{"format": 1, "entries": {key: {"model_sha256", "method", "preprocessing",
    "options", "frames", "source", "ranges"}}}``; ``ranges`` is ONNX Runtime's own
    ``TensorsData`` JSON (as ``onnxruntime.quantization.calibrate.save_tensors_data`` writes
    it; :func:`accel_ai_ros_tools.variants.int8.ranges_to_json`).
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path).expanduser()

    def _load(self) -> Dict[str, Any]:
        if not self.path.is_file():
            return {'format': CACHE_FORMAT, 'entries': {}}
        try:
            with open(self.path, encoding='utf-8') as f:
                data = json.load(f)
        except (OSError, ValueError) as exc:
            raise VariantError(f'the calibration cache {self.path} cannot be read ({exc}); '
                               f'delete it to calibrate again') from None
        if not isinstance(data, dict) or data.get('format') != CACHE_FORMAT or \
                not isinstance(data.get('entries'), dict):
            raise VariantError(f'{self.path} is not a calibration cache of format '
                               f'{CACHE_FORMAT}; delete it or name another file')
        return data

    def get(self, key: str) -> Optional[Dict[str, Any]]:
        """Return the entry stored under ``key``, or None."""
        entry = self._load()['entries'].get(key)
        return dict(entry) if isinstance(entry, dict) else None

    def put(self, key: str, entry: Mapping[str, Any]) -> None:
        """Store ``entry`` under ``key`` and rewrite the file atomically."""
        data = self._load()
        data['entries'][key] = dict(entry)
        atomic_write(self.path, json.dumps(data).encode('utf-8'))
