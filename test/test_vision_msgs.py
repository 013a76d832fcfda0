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

"""The installed vision_msgs types have the wire identity (RIHS01 hash) of vision_msgs 4.x.

Two places are checked: the type description files installed beside the messages
(``share/vision_msgs/msg/<Type>.json``, what ``ros2 interface`` and the type description
service read) and the hash compiled into the C type support, which is what a publisher
announces on the wire (read back through ``get_publishers_info_by_topic``).
"""

from pathlib import Path
import re
from typing import Dict
from typing import Iterator
from typing import List

from interface_packages import share_dir
from interface_packages import type_hash
import pytest

vision_msgs_msg = pytest.importorskip(
    'vision_msgs.msg',
    reason='vision_msgs is not importable; in a virtual env run scripts/build_interfaces.sh')

REPO = Path(__file__).resolve().parents[1]

# Hashes of upstream ros-perception/vision_msgs tag 4.1.1 (same fields as every 4.x
# release), built with the ROS 2 Kilted PyPI generators (ros-rosidl-generator-type-description
# 4.9.5) and read from its share/vision_msgs/msg/<Type>.json files.
UPSTREAM_HASHES: Dict[str, str] = {
    'BoundingBox2D':
        'RIHS01_008eacbb0cf8f26e83795547bed013eec3675485ef386ec056d80eaaf1c1ce2f',
    'Classification':
        'RIHS01_f74db28d0eaef3afb78f48bf2161cd709a1383a0309d3454383b25be11345143',
    'Detection2D':
        'RIHS01_0d12b69df5c593b3455b7346fac8205437a7d4bcb09b9e0e0b2dde787ded38ea',
    'Detection2DArray':
        'RIHS01_214274120007f4a683866481336b70310268cfa107aebe9d594a6acf75bda968',
    'ObjectHypothesis':
        'RIHS01_51da43cec11c01957a64d1e05a24acd18aae7745ec30b74348ad5f6d634f7f90',
    'ObjectHypothesisWithPose':
        'RIHS01_41c12344c0396c48b81df12467c192d99b2a0eb1463c5c37194e4223251c80bc',
    'Point2D':
        'RIHS01_eab0e83f44ab4de92ceaf76dd7d0e7638f2bdd1d16ffbe16c7a136c48e407247',
    'Pose2D':
        'RIHS01_b0b5d1d7b4c20dd4fcde3ed1d4b289a919290572007d67a97043814db25d3648',
}


def _defined_types() -> List[str]:
    """Return the message names defined in interfaces/vision_msgs/msg."""
    return sorted(p.stem for p in (REPO / 'interfaces' / 'vision_msgs' / 'msg').glob('*.msg'))


def test_every_defined_type_has_a_recorded_upstream_hash() -> None:
    """Each .msg in interfaces/vision_msgs is one we know the upstream hash of, and back."""
    assert _defined_types() == sorted(UPSTREAM_HASHES)


@pytest.mark.parametrize('name', sorted(UPSTREAM_HASHES))
def test_installed_type_description_hash_matches_upstream(name: str) -> None:
    """The installed type description of ``name`` hashes like upstream vision_msgs 4.x."""
    path = share_dir('vision_msgs') / 'msg' / f'{name}.json'
    assert type_hash(path, f'vision_msgs/msg/{name}') == UPSTREAM_HASHES[name]


@pytest.fixture(scope='module')
def node() -> Iterator[object]:
    """Yield an rclpy node in its own context, shut down afterwards."""
    rclpy = pytest.importorskip('rclpy')
    context = rclpy.Context()
    rclpy.init(context=context)
    ros_node = rclpy.create_node('test_vision_msgs_hashes', context=context)
    try:
        yield ros_node
    finally:
        ros_node.destroy_node()
        rclpy.shutdown(context=context)


@pytest.mark.parametrize('name', sorted(UPSTREAM_HASHES))
def test_publisher_announces_upstream_hash(node: object, name: str) -> None:
    """A publisher of ``name`` announces the upstream hash, so real nodes match it."""
    msg_type = getattr(vision_msgs_msg, name)
    topic = '/test_vision_msgs_' + re.sub(r'(?<!^)(?=[A-Z])', '_', name).lower()
    publisher = node.create_publisher(msg_type, topic, 1)  # type: ignore[attr-defined]
    try:
        infos = node.get_publishers_info_by_topic(topic)  # type: ignore[attr-defined]
        assert [str(i.topic_type_hash) for i in infos] == [UPSTREAM_HASHES[name]]
    finally:
        node.destroy_publisher(publisher)  # type: ignore[attr-defined]
