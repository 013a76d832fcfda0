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

"""What a task is: the one value the node, the parameter table and the tools ask for.

A task turns a model's output tensors into a result and that result into a message. Each
task lives in one module of this package (``classification.py``, ``detection.py``,
``raw.py``) that defines a :class:`Task` named ``TASK``; :mod:`accel_ai_ros.tasks.registry`
lists them by name. Message types are imported only when asked for, so the decoders run
where ROS is not installed (the offline tools, the GPU test machine).
"""

from dataclasses import dataclass
import importlib
from typing import Any
from typing import Callable
from typing import Dict
from typing import Mapping
from typing import Optional
from typing import Sequence
from typing import Tuple

import numpy as np

from accel_ai_ros.errors import AccelAiError
from accel_ai_ros.param_spec import ParamSpec
from accel_ai_ros.tasks.results import InferenceResult
from accel_ai_ros.transform import ImageTransform

#: A decoder turns one frame's outputs (by name, engine order) into a result.
Decoder = Callable[[Dict[str, np.ndarray], ImageTransform], InferenceResult]
#: Builds a task's decoder from parameter values (the task's own parameters, by name), the
#: labels, and the model input's width and height in pixels.
DecoderFactory = Callable[[Mapping[str, Any], Sequence[str], int, int], Decoder]


@dataclass(frozen=True)
class Task:
    """Everything one task is, for the node, the parameter table and the tools."""

    #: The value of the ``task`` parameter that selects it.
    name: str
    #: One line for the parameter table and the docs.
    description: str
    #: The parameters only this task reads (declared by the node with all others).
    parameters: Tuple[ParamSpec, ...]
    make_decoder: DecoderFactory
    #: Returns the message type published on ``~/results``, or None when the task has none
    #: (its result is the output tensors, published on ``~/output``).
    message_type: Callable[[], Optional[type]]
    #: Turns a result into that message, stamped with the input's header; None without one.
    to_msg: Optional[Callable[[InferenceResult, Any], Any]]
    #: Draws a result onto a BGR canvas (in place) for ``~/image_annotated``.
    draw: Callable[[np.ndarray, InferenceResult], None]


def message_module(package: str) -> Any:
    """Import ``<package>.msg``, or raise AccelAiError saying how to install it."""
    try:
        return importlib.import_module(f'{package}.msg')
    except ImportError as exc:
        debian = package.replace('_', '-')
        raise AccelAiError(
            f'{package} cannot be imported ({exc}). On a ROS 2 install run `rosdep install '
            f'--from-paths src --ignore-src -y` (package ros-<distro>-{debian}); in a Python '
            'virtual environment run `scripts/build_interfaces.sh "$VIRTUAL_ENV"`.') from exc


def copy_header(header: Any) -> Any:
    """Return a new std_msgs Header equal to ``header``, so later edits of either stay apart."""
    std_msgs = message_module('std_msgs')
    builtin = message_module('builtin_interfaces')
    return std_msgs.Header(
        stamp=builtin.Time(sec=header.stamp.sec, nanosec=header.stamp.nanosec),
        frame_id=header.frame_id)
