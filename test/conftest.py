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

"""Shared pytest setup: DDS kept on loopback on a private domain, backend selection."""

import os
from pathlib import Path
import random
from typing import Dict

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / 'shared'

# Before anything imports rclpy: keep every DDS packet on this machine and give each test
# run its own domain so that parallel runs never see each other's nodes.
os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
os.environ.setdefault('ROS_DOMAIN_ID', str(random.SystemRandom().randint(100, 200)))
_profile = REPO / 'config' / 'fastdds_localhost.xml'
if _profile.is_file():
    os.environ.setdefault('FASTDDS_DEFAULT_PROFILES_FILE', str(_profile))
    from accel_ai_ros_tools.environment import fast_dds_2
    if fast_dds_2():  # Fast DDS 2.x (Humble, Jazzy) reads only the older name
        os.environ.setdefault('FASTRTPS_DEFAULT_PROFILES_FILE',
                              os.environ['FASTDDS_DEFAULT_PROFILES_FILE'])


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add ``--backend`` to choose which backends the contract suite runs."""
    parser.addoption(
        '--backend', action='append', default=[],
        help='backend for the contract suite (onnxruntime, tensorrt, torch, triton); repeatable. '
             'Default: onnxruntime and triton.')


@pytest.fixture(scope='session')
def shared_dir() -> Path:
    """Return ../shared beside the repo, or skip when it is absent."""
    if not SHARED.is_dir():
        pytest.skip('../shared is absent (test data lives there on developer and CI machines)')
    return SHARED


@pytest.fixture(scope='session')
def face_model(shared_dir: Path) -> Path:
    """Return the shared face detector's ONNX file, or skip when it is absent."""
    path = shared_dir / 'models' / 'face-detector-slim-320' / 'version-slim-320.onnx'
    if not path.is_file():
        pytest.skip(f'{path} is absent')
    return path


@pytest.fixture(scope='session')
def ros2_cli():
    """Return the real ROS 2 command line with accel_ai_ros installed (test/ros2_cli.py).

    Built once per session into build/ros2cli; skips where ../shared is absent. The ros2
    daemon that its commands may start for this run's domain is stopped at the end.
    """
    import ros2_cli
    try:
        cli = ros2_cli.build()
    except ros2_cli.Ros2CliUnavailable as exc:
        pytest.skip(str(exc))
    yield cli
    cli.run(['daemon', 'stop'], timeout=60.0)


@pytest.fixture(scope='session')
def triton_server(tmp_path_factory: pytest.TempPathFactory):
    """Return a running Triton server on 127.0.0.1 (test/triton_server.py), stopped at the end.

    Its environment is built once under build/triton-server; skips with the reason where the
    server cannot be built or started.
    """
    import triton_server
    folder = tmp_path_factory.mktemp('triton')
    try:
        server = triton_server.start_server(folder / 'repo', folder / 'tritonserver.log')
    except triton_server.ServerUnavailable as exc:
        pytest.skip(f'no Triton server: {exc}')
    yield server
    server.stop()


@pytest.fixture
def ros():
    """Yield a private rclpy context spun on a background thread (test/ros_harness.py)."""
    from ros_harness import RosHarness  # rclpy only for the tests that ask for it
    harness = RosHarness()
    yield harness
    harness.close()


@pytest.fixture
def engines(tmp_path: Path) -> Dict[str, str]:
    """Two different real classifiers standing in for the fp32 and fp16 engines."""
    from models import make_classifier
    return {'fp32': str(make_classifier(tmp_path / 'a.onnx', seed=0)),
            'fp16': str(make_classifier(tmp_path / 'b.onnx', seed=1))}
