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

"""A backend library's own exception becomes one of ours at the runner boundary.

The node catches :class:`~accel_ai_ros.errors.AccelAiError` around activation and inference;
a torch or CUDA ``RuntimeError`` that escaped a runner used to end a lifecycle transition
with no log line. These runners fail the way a backend library does, inside the hooks every
backend implements, and the public ``activate`` / ``infer`` must say what happened.
"""

from typing import Dict

import numpy as np
import pytest

from accel_ai_ros.backends.base import Runner
from accel_ai_ros.backends.base import TensorInfo
from accel_ai_ros.errors import AccelAiError
from accel_ai_ros.errors import EngineError
from accel_ai_ros.errors import InferenceError


class LibraryFailure(Runner):
    """A runner whose library raises plain RuntimeErrors where the hook says."""

    backend_name = 'somelib'

    def __init__(self, fail_in: str) -> None:
        super().__init__('model.bin')
        self.fail_in = fail_in

    def _activate(self) -> None:
        if self.fail_in == 'activate':
            raise RuntimeError('Tensor device mismatch! Expected: cpu, Got: cuda:0')
        self._inputs = [TensorInfo('x', (1, 2), np.dtype(np.float32))]
        self._outputs = [TensorInfo('y', (1, 2), np.dtype(np.float32))]

    def _infer(self, feed: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
        raise RuntimeError('CUDA error: an illegal memory access was encountered')

    def _deactivate(self) -> None:
        pass


def test_a_library_error_in_activation_is_an_engine_error_that_says_why():
    runner = LibraryFailure('activate')
    with pytest.raises(EngineError, match='somelib.*model.bin.*RuntimeError: Tensor device '
                                          'mismatch! Expected: cpu, Got: cuda:0'):
        runner.activate()
    assert not runner.is_active


def test_a_library_error_in_inference_is_an_inference_error_that_says_why():
    runner = LibraryFailure('infer')
    runner.activate()
    with pytest.raises(InferenceError, match='RuntimeError: CUDA error: an illegal memory'):
        runner.infer({'x': np.zeros((1, 2), np.float32)})
    with pytest.raises(AccelAiError):
        runner.infer({'x': np.zeros((1, 2), np.float32)})
