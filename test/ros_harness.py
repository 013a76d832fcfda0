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

"""A real rclpy context and executor for tests, spun on a background thread."""

import itertools
import os
import threading
import time
from typing import Any
from typing import Callable
from typing import List
from typing import Optional

import numpy as np
import rclpy
from rclpy.executors import MultiThreadedExecutor
from rclpy.node import Node
from rclpy.qos import QoSProfile
from rclpy.qos import ReliabilityPolicy
from sensor_msgs.msg import Image

from accel_ai_ros_tools.bench_composition import spin_until_shutdown


class RosHarness:
    """Own an rclpy context with its executor thread; add nodes, wait for conditions."""

    def __init__(self, args: Optional[List[str]] = None) -> None:
        """Initialise a private context (the domain comes from the environment)."""
        self.context = rclpy.Context()
        rclpy.init(args=args, context=self.context)
        self.executor = MultiThreadedExecutor(num_threads=4, context=self.context)
        self.nodes: List[Node] = []
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        spin_until_shutdown(self.executor, self.context)

    def add(self, node: Node) -> Any:
        """Add a node to the executor and return it."""
        self.nodes.append(node)
        self.executor.add_node(node)
        return node

    def node(self, name: str) -> Node:
        """Create, add and return a plain helper node."""
        return self.add(Node(name, context=self.context))

    def close(self) -> None:
        """Destroy every node and shut the context down."""
        for node in reversed(self.nodes):
            self.executor.remove_node(node)
            node.destroy_node()
        rclpy.try_shutdown(context=self.context)
        self._thread.join(timeout=5.0)
        self.executor.shutdown()

    def __enter__(self) -> 'RosHarness':
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_NAMESPACES = itertools.count(1)


def unique_ns(prefix: str = 't') -> str:
    """Return a namespace no other test of this process uses."""
    return f'/{prefix}{os.getpid()}_{next(_NAMESPACES)}'


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0,
             period: float = 0.02) -> bool:
    """Poll ``predicate`` until it holds or ``timeout`` seconds pass; return its last value."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(period)
    return bool(predicate())


def reliable(depth: int = 100) -> QoSProfile:
    """Return a reliable QoS profile of ``depth``."""
    return QoSProfile(depth=depth, reliability=ReliabilityPolicy.RELIABLE)


def image_msg(pixels: np.ndarray, encoding: str = 'rgb8', frame_id: str = 'camera',
              stamp_ns: int = 0) -> Image:
    """Return a sensor_msgs/Image holding ``pixels`` (H, W[, C]) uint8."""
    msg = Image()
    msg.header.frame_id = frame_id
    msg.header.stamp.sec = stamp_ns // 1_000_000_000
    msg.header.stamp.nanosec = stamp_ns % 1_000_000_000
    msg.height, msg.width = int(pixels.shape[0]), int(pixels.shape[1])
    msg.encoding = encoding
    msg.step = int(pixels.strides[0]) if pixels.flags.c_contiguous else \
        int(pixels.shape[1] * (pixels.shape[2] if pixels.ndim == 3 else 1))
    msg.data = np.ascontiguousarray(pixels).tobytes()
    return msg


class Collector:
    """Collect the messages of one topic, thread-safely, through a helper node of ``ros``."""

    def __init__(self, ros: RosHarness, msg_type: Any, topic: str, qos: Any = None) -> None:
        self.items: List[Any] = []
        self._lock = threading.Lock()
        self._node = ros.node(f'collector_{next(_NAMESPACES)}')
        self._topic = topic
        self._node.create_subscription(msg_type, topic, self._on_msg, qos or reliable())

    def matched(self) -> bool:
        """Return True once a publisher of the topic is discovered."""
        return self._node.count_publishers(self._topic) > 0

    def _on_msg(self, msg: Any) -> None:
        with self._lock:
            self.items.append(msg)

    def __len__(self) -> int:
        with self._lock:
            return len(self.items)
