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

"""ONNX Runtime's refusals say whether the file or the graph is at fault."""

from pathlib import Path

import numpy as np
import onnx
from onnx import helper
from onnx import numpy_helper
from onnx import TensorProto
import pytest

from accel_ai_ros.backends.onnxruntime.runner import OnnxRuntimeRunner
from accel_ai_ros.errors import EngineError


def shape_error_model(path: Path) -> Path:
    """Write a readable ONNX file whose Add cannot broadcast [1, 3] with [4]."""
    graph = helper.make_graph(
        [helper.make_node('Add', ['x', 'w'], ['y'])], 'incompatible',
        [helper.make_tensor_value_info('x', TensorProto.FLOAT, [1, 3])],
        [helper.make_tensor_value_info('y', TensorProto.FLOAT, [1, 3])],
        [numpy_helper.from_array(np.ones(4, np.float32), 'w')])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def test_a_shape_inference_error_is_not_called_a_corrupt_file(tmp_path: Path) -> None:
    path = shape_error_model(tmp_path / 'model.onnx')
    with pytest.raises(EngineError) as info:
        OnnxRuntimeRunner(path).activate()
    text = str(info.value)
    assert 'refuses its graph' in text and 'ShapeInferenceError' in text, text
    assert 'corrupt' not in text, text
    truncated = tmp_path / 'truncated.onnx'
    truncated.write_bytes(path.read_bytes()[:40])
    with pytest.raises(EngineError, match='truncated, corrupt or not an ONNX model'):
        OnnxRuntimeRunner(truncated).activate()
