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

"""In-process hand-off of image messages between nodes of one container, without DDS.

rclpy has no intra-process communication. Inside ``component_container`` a node loaded with
the extra argument ``use_intra_process_comms:=true`` is *enabled* on its context's
:class:`IntraProcessBus`. Then:

- a publisher wrapped in :class:`IntraProcessPublisher` (``image_source``) gives each message
  object to the enabled subscribers of the same fully qualified topic in this process (no
  serialisation, no copy), and publishes it over DDS too only when some other subscriber
  exists (``get_subscription_count()`` counts more than the local ones);
- a subscriber (the inference node) registers its callback with :meth:`IntraProcessBus.
  subscribe` and filters its DDS callback through :meth:`IntraProcessBus.already_delivered`,
  which recognises the DDS copy of a message it already got in-process by its header
  (stamp and frame_id), the role rclcpp's ``ignore_local_publications`` plays.

Nothing here imports rclpy: contexts and nodes are opaque keys.
"""

from collections import deque
import threading
from typing import Any
from typing import Callable
from typing import Deque
from typing import Dict
from typing import List
from typing import Set
from typing import Tuple
import weakref

from accel_ai_ros.cdr_image import parse_cdr_image
from accel_ai_ros.errors import ImageDecodeError

Callback = Callable[[Any], None]
HeaderKey = Tuple[int, int, str]
#: Header keys remembered per topic to recognise DDS copies (a few frames in flight).
RECENT_KEYS = 64


def header_key(header: Any) -> HeaderKey:
    """Return (sec, nanosec, frame_id) of a std_msgs/Header-like object."""
    return (int(header.stamp.sec), int(header.stamp.nanosec), str(header.frame_id))


class IntraProcessBus:
    """Subscribers by topic for the nodes of one process; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._enabled: 'weakref.WeakSet[Any]' = weakref.WeakSet()
        self._subscribers: Dict[str, List[Tuple[Any, Callback]]] = {}
        self._recent: Dict[str, Deque[HeaderKey]] = {}
        self._recent_sets: Dict[str, Set[HeaderKey]] = {}

    def enable(self, node: Any) -> None:
        """Let ``node`` publish and subscribe in-process (the container does this)."""
        with self._lock:
            self._enabled.add(node)

    def enabled(self, node: Any) -> bool:
        """Return whether ``node`` was enabled."""
        with self._lock:
            return node in self._enabled

    def subscribe(self, node: Any, topic: str, callback: Callback) -> Callable[[], None]:
        """Deliver messages published in-process on ``topic`` to ``callback``.

        Returns the function that unsubscribes. ``topic`` is the fully qualified name.
        """
        entry = (node, callback)
        with self._lock:
            self._subscribers.setdefault(topic, []).append(entry)

        def unsubscribe() -> None:
            with self._lock:
                entries = self._subscribers.get(topic, [])
                if entry in entries:
                    entries.remove(entry)
        return unsubscribe

    def subscriber_count(self, topic: str) -> int:
        """Return how many in-process subscribers ``topic`` has."""
        with self._lock:
            return len(self._subscribers.get(topic, ()))

    def publish(self, topic: str, msg: Any) -> int:
        """Give ``msg`` to every in-process subscriber of ``topic``; return how many.

        The message's header is remembered so the DDS copy can be recognised.
        """
        with self._lock:
            entries = list(self._subscribers.get(topic, ()))
            if entries:
                self._remember(topic, header_key(msg.header))
        for _, callback in entries:
            callback(msg)
        return len(entries)

    def already_delivered(self, topic: str, key: HeaderKey) -> bool:
        """Return whether a message with header ``key`` went to ``topic``'s subscribers."""
        with self._lock:
            return key in self._recent_sets.get(topic, ())

    def _remember(self, topic: str, key: HeaderKey) -> None:
        recent = self._recent.setdefault(topic, deque())
        keys = self._recent_sets.setdefault(topic, set())
        recent.append(key)
        keys.add(key)
        while len(recent) > RECENT_KEYS:
            keys.discard(recent.popleft())


_BUSES: 'weakref.WeakKeyDictionary[Any, IntraProcessBus]' = weakref.WeakKeyDictionary()
_BUSES_LOCK = threading.Lock()


def bus_for(context: Any) -> IntraProcessBus:
    """Return the bus of ``context`` (an rclpy Context), created on first use."""
    with _BUSES_LOCK:
        bus = _BUSES.get(context)
        if bus is None:
            bus = _BUSES[context] = IntraProcessBus()
        return bus


class IntraProcessPublisher:
    """Wraps an rclpy publisher: in-process subscribers first, DDS when others listen."""

    def __init__(self, node: Any, publisher: Any) -> None:
        """Wrap ``publisher`` of ``node``; in-process only once the node is enabled."""
        self._node = node
        self._publisher = publisher
        self._bus = bus_for(node.context)
        self.topic_name = publisher.topic_name
        self.delivered_in_process = 0
        self.published_dds = 0

    def publish(self, msg: Any) -> None:
        """Publish ``msg`` in-process and, when anyone else subscribes, over DDS."""
        local = 0
        if self._bus.enabled(self._node):
            local = self._bus.publish(self.topic_name, msg)
            self.delivered_in_process += local
        if local == 0 or self._publisher.get_subscription_count() > local:
            self._publisher.publish(msg)
            self.published_dds += 1

    def get_subscription_count(self) -> int:
        """Return the DDS subscription count (as rclpy's publisher does)."""
        return int(self._publisher.get_subscription_count())


def subscribe_images(bus: IntraProcessBus, node: Any, topic: str,
                     submit: Callback) -> Tuple[Callback, Callable[[], None]]:
    """Subscribe ``submit`` to in-process images on ``topic``.

    Returns the callback to give the node's raw (serialised) DDS subscription instead of
    ``submit``, which drops the DDS copies of images already delivered in-process, and the
    function that unsubscribes.
    """
    def from_dds(raw: Any) -> None:
        try:
            image = parse_cdr_image(raw)
        except ImageDecodeError:
            submit(raw)  # the worker rejects it and says why
            return
        if not bus.already_delivered(topic, (image.stamp_sec, image.stamp_nanosec,
                                             image.frame_id)):
            submit(image)  # parsed once: the worker decodes these views, not the bytes again
    return from_dds, bus.subscribe(node, topic, submit)
