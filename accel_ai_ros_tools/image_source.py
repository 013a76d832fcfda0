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

"""A camera stand-in: publishes ``sensor_msgs/Image`` frames from a frame source on a timer.

It remembers the true label of its recent frames by stamp, so an in-process demo can score
the inference node's results with :meth:`ImageSource.label_for`.
"""

import array
from collections import OrderedDict
import sys
from typing import Any
from typing import Iterator
from typing import List
from typing import Optional
from typing import Union

from builtin_interfaces.msg import Time
import cv2
import numpy as np
from rcl_interfaces.msg import FloatingPointRange
from rcl_interfaces.msg import IntegerRange
from rcl_interfaces.msg import ParameterDescriptor
import rclpy
from rclpy.exceptions import InvalidParameterValueException
from rclpy.executors import ExternalShutdownException
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import qos_profile_sensor_data
from rclpy.qos import QoSProfile
from rclpy.qos import ReliabilityPolicy
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import CompressedImage
from sensor_msgs.msg import Image

from accel_ai_ros.errors import AccelAiError
from accel_ai_ros.errors import ParameterError
from accel_ai_ros.intra_process import IntraProcessPublisher
from accel_ai_ros.startup import ignore_late_signals
from accel_ai_ros.startup import note_signals
from accel_ai_ros_tools.frame_sources import Frame
from accel_ai_ros_tools.frame_sources import make_source
from accel_ai_ros_tools.frame_sources import SOURCE_KINDS

ENCODINGS = ('bgr8', 'rgb8', 'mono8')
RELIABILITIES = ('best_effort', 'reliable')
TRANSPORTS = ('raw', 'compressed')
LABEL_MEMORY = 2000


def stamp_to_ns(stamp: Time) -> int:
    """Return a ``builtin_interfaces/Time`` as integer nanoseconds."""
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


def fill_image(msg: Image, frame: np.ndarray, encoding: str) -> Image:
    """Fill ``msg``'s size, encoding and data from a BGR uint8 frame; return ``msg``.

    The pixels are converted to ``encoding`` and copied once into an ``array('B')``, which
    the generated message accepts without a per-byte check.
    """
    if encoding == 'rgb8':
        pixels = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    elif encoding == 'mono8':
        pixels = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    elif encoding == 'bgr8':
        pixels = np.ascontiguousarray(frame)
    else:
        raise ParameterError(f"encoding '{encoding}' is unknown; use one of "
                             f"{', '.join(ENCODINGS)}")
    msg.height, msg.width = int(pixels.shape[0]), int(pixels.shape[1])
    msg.encoding = encoding
    msg.is_bigendian = 0
    msg.step = int(pixels.strides[0])
    data = array.array('B')
    data.frombytes(pixels.data)
    msg.data = data
    return msg


def compress_image(msg: CompressedImage, frame: np.ndarray, encoding: str) -> CompressedImage:
    """Fill ``msg`` with ``frame`` (BGR) as JPEG, in image_transport's compressed format."""
    pixels = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if encoding == 'mono8' else frame
    ok, jpeg = cv2.imencode('.jpg', pixels, [cv2.IMWRITE_JPEG_QUALITY, 90])
    if not ok:
        raise AccelAiError(f'OpenCV could not JPEG-encode a {frame.shape} frame')
    msg.format = f"{encoding}; jpeg compressed {'mono8' if encoding == 'mono8' else 'bgr8'}"
    data = array.array('B')
    data.frombytes(jpeg.tobytes())
    msg.data = data
    return msg


class ImageSource(Node):
    """Publishes frames from a digits / pattern / folder / video / v4l2 source on ``image``.

    A camera stand-in for the launch files: ``reliability`` and ``transport`` give it a
    driver's QoS and topic (``image`` or ``image/compressed``), and ``publish_clock`` makes it
    the /clock of a simulator or a rosbag2 replay (``use_sim_time`` on the subscribers).
    """

    def __init__(self, node_name: str = 'image_source', *, namespace: Optional[str] = None,
                 **kwargs: Any) -> None:
        """Declare the parameters, open the frame source and start the timer.

        Keyword arguments (``parameter_overrides``, ``context``, ...) go to ``Node``.
        Raises :class:`ParameterError` or :class:`AccelAiError` when a parameter is invalid
        or the source cannot be opened.
        """
        super().__init__(node_name, namespace=namespace, **kwargs)
        self.source_kind = self._declare_str(
            'source', 'digits', f"frame source: {' | '.join(SOURCE_KINDS)}")
        self.path = self._declare_str(
            'path', '', "image folder ('folder'), video ('video') or device ('v4l2', "
            'default /dev/video0)')
        self.width = self._declare_int('width', 640, 'frame width in pixels')
        self.height = self._declare_int('height', 480, 'frame height in pixels')
        rate: Parameter = self.declare_parameter('rate_hz', 30.0, ParameterDescriptor(
            description='frames published per second', read_only=True,
            floating_point_range=[FloatingPointRange(from_value=0.1, to_value=1000.0)]))
        self.rate_hz = float(rate.value)
        self.encoding = self._declare_str('encoding', 'bgr8', f"{' | '.join(ENCODINGS)}")
        self.frame_id = self._declare_str('frame_id', 'camera', 'header.frame_id of frames')
        self.count = self._declare_int('count', 0, 'frames to publish, 0 = forever')
        self.wait_for_subscribers = self._declare_int(
            'wait_for_subscribers', 1, 'publish only once this many subscriptions match the '
            'topic (0: at once); until then no frame is taken from the source, so a fast or '
            'counted stream is not lost to discovery')
        self.reliability = self._declare_str(
            'reliability', 'best_effort', f"publisher QoS: {' | '.join(RELIABILITIES)}")
        self.transport = self._declare_str(
            'transport', 'raw', 'raw publishes image (sensor_msgs/Image), compressed publishes '
            'image/compressed (sensor_msgs/CompressedImage, JPEG)')
        clock: Parameter = self.declare_parameter('publish_clock', False, ParameterDescriptor(
            description='publish each frame stamp on /clock, as a simulator or ros2 bag play '
                        '--clock does', read_only=True))
        self.publish_clock = bool(clock.value)
        for name, value, choices in (('encoding', self.encoding, ENCODINGS),
                                     ('reliability', self.reliability, RELIABILITIES),
                                     ('transport', self.transport, TRANSPORTS)):
            if value not in choices:
                raise ParameterError(f"{name} '{value}' is unknown; use one of "
                                     f"{', '.join(choices)}")
        self.source = make_source(self.source_kind, self.path, self.width, self.height)
        self._frames: Iterator[Frame] = iter(self.source)
        self._labels: 'OrderedDict[int, Optional[int]]' = OrderedDict()
        self.published = 0
        self._waiting_said = False
        qos = QoSProfile(
            depth=qos_profile_sensor_data.depth, history=qos_profile_sensor_data.history,
            durability=qos_profile_sensor_data.durability,
            reliability=(ReliabilityPolicy.RELIABLE if self.reliability == 'reliable'
                         else ReliabilityPolicy.BEST_EFFORT))
        # In component_container with use_intra_process_comms, nodes of the same process get
        # the message object itself (accel_ai_ros.intra_process); DDS carries it to others.
        self.publisher = IntraProcessPublisher(self, (
            self.create_publisher(CompressedImage, 'image/compressed', qos)
            if self.transport == 'compressed' else self.create_publisher(Image, 'image', qos)))
        self.clock_publisher = (self.create_publisher(Clock, '/clock', 10)
                                if self.publish_clock else None)
        self.timer = self.create_timer(1.0 / self.rate_hz, self._on_timer)
        self.get_logger().info(
            f'publishing {self.source_kind} frames {self.width}x{self.height} {self.encoding} '
            f'at {self.rate_hz:g} Hz on {self.publisher.topic_name} ({self.reliability})')

    def _declare_str(self, name: str, default: str, description: str) -> str:
        """Declare a read-only string parameter and return its value."""
        param: Parameter = self.declare_parameter(
            name, default, ParameterDescriptor(description=description, read_only=True))
        return str(param.value)

    def _declare_int(self, name: str, default: int, description: str) -> int:
        """Declare a read-only, non-negative integer parameter and return its value."""
        param: Parameter = self.declare_parameter(name, default, ParameterDescriptor(
            description=description, read_only=True,
            integer_range=[IntegerRange(from_value=0, to_value=1 << 16, step=1)]))
        return int(param.value)

    @property
    def done(self) -> bool:
        """Return whether ``count`` frames have been published (never when count is 0)."""
        return 0 < self.count <= self.published

    def label_for(self, stamp: Time) -> Optional[int]:
        """Return the label of the frame published with ``stamp``, or ``None`` if unknown."""
        return self._labels.get(stamp_to_ns(stamp))

    def publish_frame(self, frame: np.ndarray,
                      label: Optional[int] = None) -> Union[Image, CompressedImage]:
        """Stamp, fill and publish one BGR frame now; remember its label; return the message."""
        msg: Union[Image, CompressedImage]
        if self.transport == 'compressed':
            msg = compress_image(CompressedImage(), frame, self.encoding)
        else:
            msg = fill_image(Image(), frame, self.encoding)
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.header.frame_id = self.frame_id
        self._labels[stamp_to_ns(msg.header.stamp)] = label
        while len(self._labels) > LABEL_MEMORY:
            self._labels.popitem(last=False)
        if self.clock_publisher is not None:
            self.clock_publisher.publish(Clock(clock=msg.header.stamp))
        self.publisher.publish(msg)
        self.published += 1
        return msg

    def _on_timer(self) -> None:
        """Publish the next frame; stop the timer once ``count`` frames are out."""
        if self.done:
            self.timer.cancel()
            return
        if self.publisher.get_subscription_count() < self.wait_for_subscribers:
            if not self._waiting_said:
                self._waiting_said = True
                self.get_logger().info(
                    f'waiting for {self.wait_for_subscribers} subscriber(s) on '
                    f'{self.publisher.topic_name} before publishing (parameter '
                    f'wait_for_subscribers; 0 publishes at once)')
            return
        try:
            frame, label = next(self._frames)
        except AccelAiError as exc:
            self.get_logger().error(f'{exc}; no more frames will be published')
            self.timer.cancel()
            return
        self.publish_frame(frame, label)
        if self.done:
            self.timer.cancel()
            self.get_logger().info(f'published {self.published} frames; done')


def main(args: Optional[List[str]] = None) -> int:
    """Run the ``image_source`` node until Ctrl-C, shutdown, or ``count`` frames are out."""
    signalled = note_signals()  # a signal shuts the context down; it never raises mid-way
    node: Optional[ImageSource] = None
    try:
        rclpy.init(args=args)
        if signalled:
            return 0
        # Made while the context is valid: a signal later shuts the context down and ends
        # the spin, instead of failing an executor made after it (rclpy then prints a
        # traceback from the half-made executor's __del__).
        executor = SingleThreadedExecutor()
        node = ImageSource()
        executor.add_node(node)
        if node.count == 0:
            executor.spin()
        else:  # exit once count frames are out
            while rclpy.ok() and not node.done:
                executor.spin_once(timeout_sec=0.5)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except (AccelAiError, InvalidParameterValueException) as exc:
        if signalled:
            return 0
        print(f'image_source: error: {exc}', file=sys.stderr)
        return 1
    except Exception:  # noqa: B902 - a signal during start-up invalidates the context
        if signalled:
            return 0
        raise
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
        ignore_late_signals()
    return 0


if __name__ == '__main__':
    sys.exit(main())
