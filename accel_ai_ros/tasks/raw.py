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

"""The raw task: the output tensors as they are, for models no decoder understands.

It has no ``~/results`` message: the node publishes the tensors on ``~/output``
(``std_msgs/Float32MultiArray``, layout in :mod:`accel_ai_ros.messages`) and draws nothing.
"""

from typing import Any
from typing import Dict
from typing import Mapping
from typing import Optional
from typing import Sequence

import numpy as np

from accel_ai_ros.tasks.base import Task
from accel_ai_ros.tasks.results import InferenceResult
from accel_ai_ros.transform import ImageTransform


class RawDecoder:
    """Pass the output tensors through unchanged."""

    def __call__(self, outputs: Dict[str, np.ndarray],
                 transform: ImageTransform) -> InferenceResult:
        """Return a raw result holding ``outputs`` as they are."""
        return InferenceResult(task='raw', raw=dict(outputs))


def make_decoder(values: Mapping[str, Any], labels: Sequence[str], input_width: int,
                 input_height: int) -> RawDecoder:
    """Return the pass-through decoder (it reads no parameter)."""
    return RawDecoder()


def message_type() -> Optional[type]:
    """Return None: raw results go to ``~/output`` only."""
    return None


def draw(canvas: np.ndarray, result: InferenceResult) -> None:
    """Draw nothing: raw tensors have no picture."""


TASK = Task(
    name='raw', description='the output tensors, published on ~/output', parameters=(),
    make_decoder=make_decoder, message_type=message_type, to_msg=None, draw=draw)
