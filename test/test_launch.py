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

"""The launch files: described arguments, no logic; loaded by launch_ros where installed."""

import ast
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import pytest

LAUNCH_DIR = Path(__file__).resolve().parents[1] / 'launch'
LAUNCH_FILES = sorted(LAUNCH_DIR.glob('*.launch.py'))


def _calls(tree: ast.AST, name: str) -> list:
    return [node for node in ast.walk(tree) if isinstance(node, ast.Call)
            and getattr(node.func, 'id', getattr(node.func, 'attr', None)) == name]


def test_there_is_a_launch_file():
    assert LAUNCH_FILES, 'launch/*.launch.py is missing'


@pytest.mark.parametrize('path', LAUNCH_FILES, ids=lambda p: p.name)
def test_launch_file_declares_described_arguments_and_holds_no_logic(path):
    tree = ast.parse(path.read_text())
    assert ast.get_docstring(tree), f'{path.name} needs a module docstring'
    arguments = _calls(tree, 'DeclareLaunchArgument')
    assert arguments, f'{path.name} declares no launch argument'
    for call in arguments:
        keywords = {k.arg for k in call.keywords}
        assert 'description' in keywords, ast.unparse(call)[:80]
    used = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    assert not {'eval', 'exec', 'subprocess', 'os'} & used
    assert not any(isinstance(node, (ast.If, ast.For, ast.While)) for node in ast.walk(tree))
    # The parameter file and the Fast DDS profile come from the package's share folder.
    assert _calls(tree, 'FindPackageShare')


@dataclass(frozen=True)
class Driver:
    """A camera driver's interface as its source or documentation at ``version`` states it."""

    version: str
    package: str
    executable: str
    parameters: frozenset
    topics: frozenset


# What each camera launch file may use of its driver, read in the driver's sources
# (the search tool's snapshot of each repository) at the version named.
DRIVERS = {
    'usb_cam.launch.py': Driver(
        'usb_cam 0.8.1 (github.com/ros-drivers/usb_cam tag 0.8.1: src/ros2/usb_cam_node.cpp, '
        'CMakeLists.txt EXECUTABLE usb_cam_node_exe)',
        'usb_cam', 'usb_cam_node_exe',
        frozenset({'camera_name', 'camera_info_url', 'framerate', 'frame_id', 'image_height',
                   'image_width', 'io_method', 'pixel_format', 'av_device_format',
                   'video_device', 'brightness', 'contrast', 'saturation', 'sharpness',
                   'gain', 'auto_white_balance', 'white_balance', 'autoexposure', 'exposure',
                   'autofocus', 'focus'}),
        frozenset({'image_raw', 'image_raw/compressed', 'camera_info'})),
    'v4l2_camera.launch.py': Driver(
        'v4l2_camera 0.6 README (gitlab.com/boldhearts/ros2_v4l2_camera, commit 788d0bc9); '
        'docs.ros.org v4l2_camera 0.8.0 changelog: no interface change',
        'v4l2_camera', 'v4l2_camera_node',
        frozenset({'video_device', 'pixel_format', 'output_encoding', 'image_size',
                   'time_per_frame', 'camera_frame_id', 'camera_info_url'}),
        frozenset({'image_raw', 'camera_info'})),
    'realsense.launch.py': Driver(
        'realsense2_camera 4.56.1 (github.com/IntelRealSense/realsense-ros tag 4.56.1: '
        'launch/rs_launch.py, README.md, src/rs_node_setup.cpp "~/color/image_raw")',
        'realsense2_camera', 'realsense2_camera_node',
        frozenset({'serial_no', 'usb_port_id', 'device_type', 'enable_color', 'enable_depth',
                   'enable_infra1', 'enable_infra2', 'rgb_camera.color_profile',
                   'rgb_camera.color_format', 'color_qos', 'initial_reset'}),
        frozenset()),  # ~/color/image_raw is private: the node follows it, no remap
    'jetson_csi.launch.py': Driver(
        'gscam 2.0.2 (github.com/ros-drivers/gscam tag 2.0.2: src/gscam.cpp, CMakeLists.txt '
        'EXECUTABLE gscam_node)',
        'gscam', 'gscam_node',
        frozenset({'gscam_config', 'sync_sink', 'preroll', 'use_gst_timestamps',
                   'reopen_on_eof', 'camera_info_url', 'camera_name', 'image_encoding',
                   'frame_id', 'use_sensor_data_qos'}),
        frozenset({'camera/image_raw', 'camera/image_raw/compressed', 'camera/camera_info'})),
}


def _keyword(call: ast.Call, name: str) -> Optional[ast.expr]:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _driver_node(tree: ast.AST) -> ast.Call:
    nodes = [call for call in _calls(tree, 'Node')
             if ast.literal_eval(_keyword(call, 'package')) != 'accel_ai_ros']
    assert len(nodes) == 1, 'one driver Node expected'
    return nodes[0]


@pytest.mark.parametrize('name', sorted(DRIVERS), ids=lambda n: n.split('.')[0])
def test_driver_node_uses_only_the_documented_interface(name):
    driver = DRIVERS[name]
    node = _driver_node(ast.parse((LAUNCH_DIR / name).read_text()))
    assert ast.literal_eval(_keyword(node, 'package')) == driver.package
    assert ast.literal_eval(_keyword(node, 'executable')) == driver.executable, driver.version
    parameters = _keyword(node, 'parameters')
    assert isinstance(parameters, ast.List) and isinstance(parameters.elts[0], ast.Dict)
    used = {ast.literal_eval(key) for key in parameters.elts[0].keys}
    assert used <= driver.parameters, f'{used - driver.parameters} not in {driver.version}'
    remappings = _keyword(node, 'remappings')
    remapped = set() if remappings is None else {
        ast.literal_eval(pair.elts[0]) for pair in remappings.elts}
    assert remapped <= driver.topics, f'{remapped - driver.topics} not in {driver.version}'


def _position(tree: ast.Module, text: str) -> int:
    """Return the index in the returned LaunchDescription list of the entity naming ``text``."""
    entities = next(node for node in ast.walk(tree) if isinstance(node, ast.Return)).value
    assert isinstance(entities, ast.Call)
    items = entities.args[0]
    assert isinstance(items, ast.List)
    return next(i for i, item in enumerate(items.elts) if text in ast.unparse(item))


@pytest.mark.parametrize('name', sorted(set(DRIVERS) | {'rosbag.launch.py'}),
                         ids=lambda n: n.split('.')[0])
def test_the_driver_starts_after_the_dds_profile_and_before_the_node(name):
    """The driver gets FASTDDS_DEFAULT_PROFILES_FILE; a missing one fails before any start."""
    tree = ast.parse((LAUNCH_DIR / name).read_text())
    driver = 'ros2_bag_play' if name == 'rosbag.launch.py' else DRIVERS[name].executable
    assert (_position(tree, 'fastdds.launch.py') < _position(tree, driver)
            < _position(tree, 'inference.launch.py'))
