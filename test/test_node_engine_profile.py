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

"""The real node declares engine_profile.min/opt/max one by one without refusing them.

An incomplete profile is refused at start-up by params.start_up_problem
(test_tensorrt_build.py).
"""

import os
from pathlib import Path
from typing import Any
from typing import Dict

from models import make_classifier
import pytest
from rclpy.parameter import Parameter
from ros_harness import RosHarness

pytest.importorskip('vision_msgs.msg', reason='vision_msgs is not built: run scripts/setup.sh')

from accel_ai_ros.node import InferenceNode  # noqa: E402

PROFILE = {'engine_profile.min': 'input:1x3x16x16', 'engine_profile.opt': 'input:1x3x32x32',
           'engine_profile.max': 'input:1x3x64x64'}


def _node(ros: RosHarness, name: str, overrides: Dict[str, Any]) -> InferenceNode:
    params = [Parameter(k, value=v) for k, v in overrides.items()]
    return ros.add(InferenceNode(namespace=f'/p{os.getpid()}_{name}', context=ros.context,
                                 parameter_overrides=params))


def test_node_declares_a_complete_profile(ros: RosHarness, tmp_path: Path) -> None:
    engine = str(make_classifier(tmp_path / 'm.onnx'))
    node = _node(ros, 'good', dict(PROFILE, **{'engines.fp32': engine, 'autostart': False}))
    for name, value in PROFILE.items():
        assert node.get_parameter(name).value == value
