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

"""component_container under the real ``ros2 component`` and ``ros2 launch``.

The ROS 2 command line comes from ../shared/ros2-cli (test/ros2_cli.py); the tests skip with
the reason where it is absent. Results are read by an rclpy subscriber in this process.
"""

import os
from pathlib import Path
import re
import textwrap
import time
from typing import Any
from typing import Dict
from typing import List

from models import make_classifier
import pytest
from ros2_cli import Ros2Process
from ros2_cli import wait_for_text
from ros_harness import reliable
from ros_harness import RosHarness
from ros_harness import wait_for
from std_msgs.msg import Float32

_RETRY = ('Unable to find container node', "No 'load_node' service found")


def _component(ros2_cli: Any, args: List[str], timeout: float = 60.0) -> str:
    """Run ``ros2 component <args>``; retry while the daemon's graph lags; return output."""
    end = time.monotonic() + timeout
    while True:
        done = ros2_cli.run(['component', *args], timeout=timeout)
        if done.returncode == 0 or not any(r in done.stdout for r in _RETRY) \
                or time.monotonic() > end:
            return f'exit {done.returncode}\n{done.stdout}'
        time.sleep(1.0)


def _classifier_params(engine: Path) -> List[str]:
    return ['-p', f'engines.fp32:={engine}', '-p', 'task:=classification',
            '-p', 'resize_mode:=stretch', '-p', 'top_k:=3', '-p', 'mean:=[0.0, 0.0, 0.0]']


@pytest.fixture
def container(ros2_cli: Any, tmp_path: Path) -> Any:
    """Yield a running ``component_container`` named /accel_container_<pid>."""
    name = f'accel_container_{os.getpid()}'
    proc = ros2_cli.start(['run', 'accel_ai_ros', 'component_container', '--ros-args',
                           '-r', f'__node:={name}'], tmp_path / 'container.log')
    proc.name = '/' + name
    try:
        yield proc
    finally:
        code = proc.interrupt()
        proc.kill()
        assert code == 0, f'the container exited with {code}:\n{proc.output()[-3000:]}'


def test_ros2_component_load_list_unload(ros2_cli: Any, container: Ros2Process,
                                         tmp_path: Path) -> None:
    """Load an image source and the inference node, see results, list and unload them."""
    engine = make_classifier(tmp_path / 'classifier.onnx')
    ns = f'/cc{os.getpid()}'
    name = container.name  # type: ignore[attr-defined]
    out = _component(ros2_cli, [
        'load', name, 'accel_ai_ros', 'accel_ai_ros::ImageSource', '-n', 'camera',
        '--node-namespace', ns, '-p', 'source:=pattern', '-p', 'width:=64',
        '-p', 'height:=48', '-p', 'rate_hz:=20.0', '-r', 'image:=camera/image'])
    assert f"Loaded component 1 into '{name}' container node as '{ns}/camera'" in out, out
    with RosHarness() as ros:
        latencies: List[float] = []
        ros.node('listener').create_subscription(
            Float32, f'{ns}/infer/latency', lambda m: latencies.append(m.data), 10)
        out = _component(ros2_cli, [
            'load', name, 'accel_ai_ros', 'accel_ai_ros::InferenceNode', '-n', 'infer',
            '--node-namespace', ns, *_classifier_params(engine),
            '-r', f'image:={ns}/camera/image'])
        assert f"Loaded component 2 into '{name}' container node as '{ns}/infer'" in out, out
        assert wait_for(lambda: len(latencies) >= 5, timeout=60.0), \
            f'no results from the loaded node:\n{container.output()[-3000:]}'

    out = _component(ros2_cli, ['list', name])
    assert re.search(rf'1\s+{ns}/camera', out) and re.search(rf'2\s+{ns}/infer', out), out

    out = _component(ros2_cli, ['unload', name, '2'])
    assert f"Unloaded component 2 from '{name}' container node" in out, out
    out = _component(ros2_cli, ['list', name])
    assert f'{ns}/infer' not in out and f'{ns}/camera' in out, out
    out = _component(ros2_cli, ['unload', name, '2'])
    assert 'No node found with unique_id: 2' in out, out


def test_load_refusals_say_why(ros2_cli: Any, container: Ros2Process, tmp_path: Path) -> None:
    """An unknown plugin, extra argument or bad parameter is refused with the reason.

    (``ros2 component load`` lower-cases the reason after its first letter.)
    """
    name = container.name  # type: ignore[attr-defined]
    out = _component(ros2_cli, ['load', name, 'accel_ai_ros', 'accel_ai_ros::Nope']).lower()
    assert "has no component 'accel_ai_ros::nope'" in out, out
    assert 'accel_ai_ros::inferencenode' in out, out
    out = _component(ros2_cli, ['load', name, 'not_a_package', 'x::Y']).lower()
    assert "package 'not_a_package' registers no python components" in out, out
    out = _component(ros2_cli, ['load', name, 'accel_ai_ros', 'accel_ai_ros::ImageSource',
                                '-e', 'use_intra_process_comms:=1']).lower()
    assert "'use_intra_process_comms' must be a boolean" in out, out
    out = _component(ros2_cli, ['load', name, 'accel_ai_ros', 'accel_ai_ros::ImageSource',
                                '-e', 'executor:=single']).lower()
    assert "extra argument 'executor' is not supported" in out, out
    out = _component(ros2_cli, ['load', name, 'accel_ai_ros', 'accel_ai_ros::ImageSource',
                                '-p', 'encoding:=yuv9']).lower()
    assert 'component constructor threw an exception' in out and 'yuv9' in out, out
    # Nothing half-loaded stays behind, and the container still serves.
    out = _component(ros2_cli, ['load', name, 'accel_ai_ros', 'accel_ai_ros::ImageSource',
                                '-n', 'ok_source', '-p', 'source:=pattern']).lower()
    assert 'loaded component 1 into' in out, out
    nodes = ros2_cli.run(['node', 'list', '--no-daemon', '--spin-time', '3']).stdout
    assert '/ok_source' in nodes and '/image_source' not in nodes, nodes


LAUNCH = textwrap.dedent('''\
    """Two cameras and two inference nodes sharing one engine in one component_container."""
    from launch import LaunchDescription
    from launch_ros.actions import ComposableNodeContainer
    from launch_ros.actions import LoadComposableNodes
    from launch_ros.descriptions import ComposableNode

    IN_PROCESS = [{{'use_intra_process_comms': True}}]


    def camera(index):
        return ComposableNode(
            package='accel_ai_ros', plugin='accel_ai_ros::ImageSource', name='camera',
            namespace=f'{ns}/cam{{index}}', extra_arguments=IN_PROCESS,
            parameters=[{{'source': 'pattern', 'width': 64, 'height': 48, 'rate_hz': 20.0,
                          'frame_id': f'cam{{index}}_optical'}}])


    def inference(index):
        return ComposableNode(
            package='accel_ai_ros', plugin='accel_ai_ros::InferenceNode', name='infer',
            namespace=f'{ns}/cam{{index}}', extra_arguments=IN_PROCESS,
            parameters=[{{'engines.fp32': '{engine}', 'task': 'classification',
                          'resize_mode': 'stretch', 'share_engine': True}}])


    def generate_launch_description():
        container = ComposableNodeContainer(
            name='composed', namespace='{ns}', package='accel_ai_ros',
            executable='component_container', output='screen',
            composable_node_descriptions=[camera(0), camera(1)])
        load = LoadComposableNodes(target_container='{ns}/composed',
                                   composable_node_descriptions=[inference(0), inference(1)])
        return LaunchDescription([container, load])
    ''')


def test_composable_node_container_launch_with_two_cameras_on_one_engine(
        ros2_cli: Any, tmp_path: Path) -> None:
    """A ComposableNodeContainer and LoadComposableNodes: two cameras, one engine loaded.

    Each camera's results arrive on its own namespace with its own frame_id, the second node
    shares the first one's engine, and Ctrl-C ends the launch with 0.
    """
    classification = pytest.importorskip('vision_msgs.msg').Classification
    engine = make_classifier(tmp_path / 'batched.onnx', input_shape=('batch', 3, 32, 32))
    ns = f'/cl{os.getpid()}'
    launch_file = tmp_path / 'composed.launch.py'
    launch_file.write_text(LAUNCH.format(ns=ns, engine=engine))
    proc = ros2_cli.start(['launch', str(launch_file)], tmp_path / 'launch.log')
    try:
        assert wait_for_text(proc, f"Loaded node '{ns}/cam1/infer' in container", 90.0), \
            proc.output()[-3000:]
        with RosHarness() as ros:
            frame_ids: Dict[int, List[str]] = {0: [], 1: []}
            listener = ros.node('listener')
            for i in frame_ids:
                listener.create_subscription(
                    classification, f'{ns}/cam{i}/infer/results',
                    lambda m, i=i: frame_ids[i].append(m.header.frame_id), reliable())
            assert wait_for(lambda: all(len(f) >= 5 for f in frame_ids.values()),
                            timeout=60.0), proc.output()[-3000:]
        assert set(frame_ids[0]) == {'cam0_optical'} and set(frame_ids[1]) == {'cam1_optical'}
        assert 'shared by 2 node(s)' in proc.output(), proc.output()[-3000:]
        code = proc.interrupt()
        assert code == 0, f'ros2 launch exited with {code}:\n{proc.output()[-3000:]}'
    finally:
        proc.kill()
