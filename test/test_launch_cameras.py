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

"""Every launch file under the real ``ros2 launch`` (test/ros2_cli.py builds it).

No camera driver installs here, so each camera launch file runs with ``camera_stand_in:=true``:
image_source publishes on the driver's documented topic with the driver's QoS, and the
inference node's results must arrive for its frames. Ctrl-C (SIGINT to the process group, as
a terminal sends it) must end every process cleanly with exit code 0. Without the stand-in,
a launch whose driver is missing must fail at once with one line naming the package.
"""

import ast
from dataclasses import dataclass
from pathlib import Path
import threading
from typing import Dict
from typing import List
from typing import Optional

from models import make_classifier
import pytest
from rcl_interfaces.srv import GetParameters
from rclpy.parameter import parameter_value_to_python
from rclpy.qos import ReliabilityPolicy
from ros2_cli import Ros2Cli
from ros_harness import RosHarness
from ros_harness import wait_for
from rosgraph_msgs.msg import Clock
from std_msgs.msg import Float32

RELIABLE = ReliabilityPolicy.RELIABLE
BEST_EFFORT = ReliabilityPolicy.BEST_EFFORT
LAUNCH_DIR = Path(__file__).resolve().parents[1] / 'launch'
START_TIMEOUT = 90.0  # a loaded 2-core machine: process start, imports, engine load


@dataclass(frozen=True)
class Camera:
    """What a launch file promises: the driver package, its image topic and QoS."""

    file: str
    package: Optional[str]
    topic: str
    reliability: ReliabilityPolicy
    sim_time: bool = False
    args: tuple = ()


# Topic and QoS as each driver documents them (the versions are cited in test_launch.py).
CAMERAS: Dict[str, Camera] = {
    'inference': Camera('inference.launch.py', None, '/image', BEST_EFFORT),
    'image_source': Camera('image_source.launch.py', None, '/camera/image_raw', BEST_EFFORT),
    'usb_cam': Camera('usb_cam.launch.py', 'usb_cam', '/image_raw', RELIABLE),
    # usb_cam publishes only image_raw/compressed for pixel_format mjpeg.
    'usb_cam_mjpeg': Camera('usb_cam.launch.py', 'usb_cam', '/image_raw/compressed', RELIABLE,
                            args=('pixel_format:=mjpeg', 'input_transport:=compressed')),
    'v4l2_camera': Camera('v4l2_camera.launch.py', 'v4l2_camera', '/image_raw', RELIABLE),
    'realsense': Camera('realsense.launch.py', 'realsense2_camera',
                        '/camera/camera/color/image_raw', RELIABLE),
    'jetson_csi': Camera('jetson_csi.launch.py', 'gscam', '/camera/image_raw', RELIABLE,
                         args=('image_width:=640', 'image_height:=480')),
    'isaac_sim': Camera('isaac_sim.launch.py', None, '/rgb', RELIABLE, sim_time=True),
    'rosbag': Camera('rosbag.launch.py', 'rosbag2', '/camera/image_raw', RELIABLE,
                     sim_time=True),
}


@pytest.fixture
def params_file(tmp_path: Path) -> Path:
    """Write a parameter file with precision fp16 and engines relative to its model_dir."""
    models = tmp_path / 'models'
    models.mkdir()
    make_classifier(models / 'classifier_fp32.onnx', seed=0)
    make_classifier(models / 'classifier_fp16.onnx', seed=1)
    path = tmp_path / 'params.yaml'
    path.write_text(
        '/**:\n  ros__parameters:\n    precision: fp16\n'
        f'    model_dir: {models}\n'
        '    engines:\n      fp32: classifier_fp32.onnx\n      fp16: classifier_fp16.onnx\n'
        '    task: classification\n    top_k: 1\n', encoding='utf-8')
    return path


class Observer:
    """A test-side node: counts the node's latency messages, /clock, and reads parameters."""

    def __init__(self, ros: RosHarness, node_name: str = '/inference_node') -> None:
        """Subscribe to ``<node_name>/latency`` and /clock."""
        self.node = ros.node('launch_observer')
        self.node_name = node_name
        self.latency = 0
        self.clock = 0
        self._lock = threading.Lock()
        self.node.create_subscription(Float32, f'{node_name}/latency', self._on_latency, 10)
        self.node.create_subscription(Clock, '/clock', self._on_clock, 10)
        self._params = self.node.create_client(GetParameters, f'{node_name}/get_parameters')

    def _on_latency(self, _msg: Float32) -> None:
        with self._lock:
            self.latency += 1

    def _on_clock(self, _msg: Clock) -> None:
        with self._lock:
            self.clock += 1

    def parameters(self, names: List[str]) -> Dict[str, object]:
        """Return the node's values of ``names`` through its get_parameters service."""
        assert self._params.wait_for_service(timeout_sec=30.0), 'no get_parameters service'
        future = self._params.call_async(GetParameters.Request(names=names))
        assert wait_for(future.done, timeout=30.0), 'get_parameters did not answer'
        return {name: parameter_value_to_python(value)
                for name, value in zip(names, future.result().values)}

    def publishers(self, topic: str) -> list:
        """Return the publishers' endpoint infos of ``topic``."""
        return self.node.get_publishers_info_by_topic(topic)


def stop_cleanly(proc, log_text: str = '') -> None:
    """Ctrl-C the launch; assert exit code 0 and that every process finished cleanly."""
    code = proc.interrupt(timeout=60.0)
    out = proc.output()
    try:
        assert code == 0, f'ros2 launch exited {code} after SIGINT:\n{out[-4000:]}'
        assert 'Traceback' not in out, out[-4000:]
        assert 'process has died' not in out, out[-4000:]
        assert not proc.group_alive(), 'a launched process outlived the launch'
    finally:
        proc.kill()


@pytest.mark.parametrize('case', sorted(CAMERAS))
def test_camera_launch_file_runs_with_the_stand_in_and_stops_on_ctrl_c(
        case: str, ros2_cli: Ros2Cli, params_file: Path, tmp_path: Path) -> None:
    """Results arrive for frames on the driver's topic and QoS; Ctrl-C ends it all with 0."""
    camera = CAMERAS[case]
    proc = ros2_cli.start(['launch', 'accel_ai_ros', camera.file, 'camera_stand_in:=true',
                           f'params_file:={params_file}', *camera.args],
                          tmp_path / 'launch.log')
    try:
        with RosHarness() as ros:
            observer = Observer(ros)
            arrived = wait_for(lambda: observer.latency >= 3, timeout=START_TIMEOUT, period=0.2)
            assert arrived, f'no results in {START_TIMEOUT} s:\n{proc.output()[-4000:]}'
            # Discovery of the stand-in's endpoint and node name may trail its first frames.
            wait_for(lambda: [info.node_name for info in observer.publishers(camera.topic)]
                     == ['camera_stand_in'], timeout=20.0, period=0.2)
            infos = observer.publishers(camera.topic)
            assert [info.node_name for info in infos] == ['camera_stand_in'], \
                f'publishers of {camera.topic}: {infos}'
            assert infos[0].qos_profile.reliability == camera.reliability
            # Every process the launch file started runs with the installed Fast DDS profile.
            profile = str(ros2_cli.venv / 'share' / 'accel_ai_ros' / 'config'
                          / 'fastdds_localhost.xml')
            started = {cmd: value for cmd, value in proc.environ(
                'FASTDDS_DEFAULT_PROFILES_FILE').items() if '/lib/accel_ai_ros/' in cmd}
            assert len(started) == 2 and set(started.values()) == {profile}, started
            values = observer.parameters(['use_sim_time', 'precision'])
            assert values['use_sim_time'] is camera.sim_time
            assert values['precision'] == 'fp16'
            if camera.sim_time:
                assert observer.clock > 0, 'the stand-in published no /clock'
    except BaseException:
        proc.kill()
        raise
    stop_cleanly(proc)


@pytest.mark.parametrize('given', [False, True], ids=['not-given', 'given'])
def test_parameter_file_precision_and_model_dir_survive_unless_given(
        given: bool, ros2_cli: Ros2Cli, params_file: Path, tmp_path: Path) -> None:
    """Arguments left empty keep the file's values; arguments given reach the node."""
    models = params_file.parent / 'models'
    other = tmp_path / 'other_models'
    other.mkdir()
    for name in ('classifier_fp32.onnx', 'classifier_fp16.onnx'):
        (other / name).write_bytes((models / name).read_bytes())
    args = ['precision:=fp32', f'model_dir:={other}'] if given else []
    proc = ros2_cli.start(['launch', 'accel_ai_ros', 'inference.launch.py',
                           'camera_stand_in:=true', f'params_file:={params_file}', *args],
                          tmp_path / 'launch.log')
    try:
        with RosHarness() as ros:
            observer = Observer(ros)
            arrived = wait_for(lambda: observer.latency >= 1, timeout=START_TIMEOUT, period=0.2)
            assert arrived, f'no results in {START_TIMEOUT} s:\n{proc.output()[-4000:]}'
            values = observer.parameters(['precision', 'model_dir'])
            if given:
                assert values == {'precision': 'fp32', 'model_dir': str(other)}
            else:
                assert values == {'precision': 'fp16', 'model_dir': str(models)}
    except BaseException:
        proc.kill()
        raise
    stop_cleanly(proc)


@pytest.mark.parametrize('case', sorted({camera.file.split('.')[0]: case
                                         for case, camera in reversed(CAMERAS.items())
                                         if camera.package}.values()))
def test_missing_driver_fails_at_once_with_one_line_naming_the_package(
        case: str, ros2_cli: Ros2Cli, params_file: Path) -> None:
    """Nothing starts; the one error line names the package to install; exit code 1."""
    package = CAMERAS[case].package
    done = ros2_cli.run(['launch', 'accel_ai_ros', CAMERAS[case].file,
                         f'params_file:={params_file}'], timeout=120.0)
    errors = [line for line in done.stdout.splitlines() if 'ERROR' in line]
    assert done.returncode == 1, done.stdout
    assert len(errors) == 1 and f"package '{package}' not found" in errors[0], done.stdout
    assert 'process started' not in done.stdout, done.stdout


@pytest.mark.parametrize('launch_file', sorted(p.name for p in LAUNCH_DIR.glob('*.launch.py')))
def test_show_args_describes_every_argument(launch_file: str, ros2_cli: Ros2Cli) -> None:
    """``ros2 launch ... --show-args`` lists each argument of the file with its description."""
    done = ros2_cli.run(['launch', 'accel_ai_ros', launch_file, '--show-args'])
    assert done.returncode == 0, done.stdout
    tree = ast.parse((LAUNCH_DIR / launch_file).read_text())
    for call in ast.walk(tree):
        if isinstance(call, ast.Call) and getattr(call.func, 'id', '') == 'DeclareLaunchArgument':
            name = ast.literal_eval(call.args[0])
            description = ast.literal_eval(next(
                k.value for k in call.keywords if k.arg == 'description'))
            assert f"    '{name}':\n        {description}" in done.stdout, name


def test_container_argument_loads_the_node_into_a_running_component_container(
        ros2_cli: Ros2Cli, params_file: Path, tmp_path: Path) -> None:
    """container:=<name> loads the node as a component; the parameter file still stands."""
    container = ros2_cli.start(['run', 'accel_ai_ros', 'component_container', '--ros-args',
                                '-r', '__node:=accel_container'], tmp_path / 'container.log')
    proc = None
    try:
        proc = ros2_cli.start(['launch', 'accel_ai_ros', 'inference.launch.py',
                               'container:=/accel_container', 'camera_stand_in:=true',
                               f'params_file:={params_file}'], tmp_path / 'launch.log')
        with RosHarness() as ros:
            observer = Observer(ros)
            arrived = wait_for(lambda: observer.latency >= 3, timeout=START_TIMEOUT, period=0.2)
            assert arrived, (f'no results in {START_TIMEOUT} s:\n{proc.output()[-3000:]}\n'
                             f'{container.output()[-3000:]}')
            assert observer.parameters(['precision']) == {'precision': 'fp16'}
            assert "Loaded node '/inference_node' in container '/accel_container'" \
                in proc.output()
        started = proc.environ('FASTDDS_DEFAULT_PROFILES_FILE')
        assert not any('lib/accel_ai_ros/inference_node' in cmd for cmd in started), \
            'the node ran as its own process'
    except BaseException:
        if proc is not None:
            proc.kill()
        raise
    finally:
        container.interrupt(timeout=30.0)
        container.kill()
    stop_cleanly(proc)
