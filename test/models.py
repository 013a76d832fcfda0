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

"""Build small, real ONNX models for tests with ``onnx.helper``.

Every builder writes a checked ONNX file to ``path`` and returns ``path`` (as a
:class:`pathlib.Path`). Weights come from a seeded generator, so two calls with the same
arguments write the same model. Tests import these as ``from models import make_classifier``
(pytest puts ``test/`` on ``sys.path`` because it has no ``__init__.py``).

- :func:`make_classifier`: Conv -> Relu -> GlobalAveragePool -> Flatten -> Gemm, static shape.
- :func:`make_dynamic_model`: the same network with a symbolic batch, height and width.
- :func:`make_two_output_model`: a detector-like model with ``scores`` and ``boxes`` outputs.
- :func:`make_legacy_model`: an opset-9 export whose initializers are also graph inputs.
- :func:`make_identity_model`: one input copied to one output, any ONNX element type.
"""

from pathlib import Path
from typing import List
from typing import Optional
from typing import Sequence
from typing import Tuple
from typing import Union

import numpy as np
import onnx
from onnx import helper
from onnx import numpy_helper
from onnx import TensorProto

from accel_ai_ros_tools.variants.onnx_fixes import with_min_ir_version

PathLike = Union[str, Path]
Dim = Union[int, str, None]

#: Opset used by the builders unless told otherwise.
DEFAULT_OPSET = 13


def _weights(rng: np.random.Generator, name: str, shape: Sequence[int]) -> onnx.TensorProto:
    """Return a float32 initializer of small seeded random values."""
    values = (rng.standard_normal(tuple(shape)) * 0.1).astype(np.float32)
    return numpy_helper.from_array(values, name)


def _save(model: onnx.ModelProto, path: PathLike) -> Path:
    """Check ``model``, write it to ``path`` and return the path.

    The IR version is the lowest the opset needs (``helper.make_model`` writes the newest),
    so every supported ONNX Runtime loads the file.
    """
    model = with_min_ir_version(model)
    onnx.checker.check_model(model)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(out))
    return out


def _classifier_graph(
    input_shape: Sequence[Dim], num_classes: int, channels: int, hidden: int, seed: int,
) -> Tuple[List[onnx.NodeProto], List[onnx.TensorProto], onnx.ValueInfoProto,
           onnx.ValueInfoProto]:
    """Return the nodes, initializers, input and output of the small classifier."""
    rng = np.random.default_rng(seed)
    inits = [
        _weights(rng, 'conv.weight', (hidden, channels, 3, 3)),
        _weights(rng, 'conv.bias', (hidden,)),
        _weights(rng, 'fc.weight', (num_classes, hidden)),
        _weights(rng, 'fc.bias', (num_classes,)),
    ]
    nodes = [
        helper.make_node('Conv', ['input', 'conv.weight', 'conv.bias'], ['conv_out'],
                         kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node('Relu', ['conv_out'], ['relu_out']),
        helper.make_node('GlobalAveragePool', ['relu_out'], ['pool_out']),
        helper.make_node('Flatten', ['pool_out'], ['flat_out'], axis=1),
        helper.make_node('Gemm', ['flat_out', 'fc.weight', 'fc.bias'], ['logits'], transB=1),
    ]
    batch = input_shape[0]
    graph_input = helper.make_tensor_value_info('input', TensorProto.FLOAT, list(input_shape))
    graph_output = helper.make_tensor_value_info('logits', TensorProto.FLOAT,
                                                 [batch, num_classes])
    return nodes, inits, graph_input, graph_output


def make_classifier(
    path: PathLike, num_classes: int = 10, input_shape: Sequence[int] = (1, 3, 32, 32),
    hidden: int = 8, seed: int = 0, opset: int = DEFAULT_OPSET,
) -> Path:
    """Write a tiny image classifier with input 'input' (NCHW float32) and output 'logits'.

    Conv(3x3, ``hidden`` channels) -> Relu -> GlobalAveragePool -> Flatten -> Gemm to
    ``num_classes`` logits, shape ``(N, num_classes)``.
    """
    if len(input_shape) != 4:
        raise ValueError(f'input_shape must be NCHW, got {tuple(input_shape)}')
    nodes, inits, graph_input, graph_output = _classifier_graph(
        input_shape, num_classes, int(input_shape[1]), hidden, seed)
    graph = helper.make_graph(nodes, 'classifier', [graph_input], [graph_output], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', opset)],
                              producer_name='accel_ai_ros-test')
    return _save(model, path)


def make_dynamic_model(
    path: PathLike, num_classes: int = 10, channels: int = 3, seed: int = 0,
    opset: int = DEFAULT_OPSET,
) -> Path:
    """Write the classifier of :func:`make_classifier` with input ['batch', C, 'height', 'width'].

    The output 'logits' has shape ['batch', ``num_classes``].
    """
    shape: List[Dim] = ['batch', channels, 'height', 'width']
    nodes, inits, graph_input, graph_output = _classifier_graph(
        shape, num_classes, channels, 8, seed)
    graph = helper.make_graph(nodes, 'dynamic', [graph_input], [graph_output], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', opset)],
                              producer_name='accel_ai_ros-test')
    return _save(model, path)


def make_two_output_model(
    path: PathLike, input_shape: Sequence[int] = (1, 3, 32, 32), num_anchors: int = 16,
    num_classes: int = 2, seed: int = 0, opset: int = DEFAULT_OPSET,
) -> Path:
    """Write a detector-like model: input 'input', outputs 'scores' and 'boxes'.

    'scores' is float32 ``(N, num_anchors, num_classes)`` after a Softmax over the last axis;
    'boxes' is float32 ``(N, num_anchors, 4)`` after a Sigmoid, so both look like the shared
    face detector's outputs.
    """
    rng = np.random.default_rng(seed)
    n, c = int(input_shape[0]), int(input_shape[1])
    hidden = 8
    inits = [
        _weights(rng, 'conv.weight', (hidden, c, 3, 3)),
        _weights(rng, 'conv.bias', (hidden,)),
        _weights(rng, 'cls.weight', (num_anchors * num_classes, hidden)),
        _weights(rng, 'cls.bias', (num_anchors * num_classes,)),
        _weights(rng, 'box.weight', (num_anchors * 4, hidden)),
        _weights(rng, 'box.bias', (num_anchors * 4,)),
        numpy_helper.from_array(np.array([n, num_anchors, num_classes], np.int64), 'cls.shape'),
        numpy_helper.from_array(np.array([n, num_anchors, 4], np.int64), 'box.shape'),
    ]
    nodes = [
        helper.make_node('Conv', ['input', 'conv.weight', 'conv.bias'], ['conv_out'],
                         kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node('Relu', ['conv_out'], ['relu_out']),
        helper.make_node('GlobalAveragePool', ['relu_out'], ['pool_out']),
        helper.make_node('Flatten', ['pool_out'], ['flat_out'], axis=1),
        helper.make_node('Gemm', ['flat_out', 'cls.weight', 'cls.bias'], ['cls_flat'],
                         transB=1),
        helper.make_node('Reshape', ['cls_flat', 'cls.shape'], ['cls_logits']),
        helper.make_node('Softmax', ['cls_logits'], ['scores'], axis=-1),
        helper.make_node('Gemm', ['flat_out', 'box.weight', 'box.bias'], ['box_flat'],
                         transB=1),
        helper.make_node('Reshape', ['box_flat', 'box.shape'], ['box_raw']),
        helper.make_node('Sigmoid', ['box_raw'], ['boxes']),
    ]
    graph = helper.make_graph(
        nodes, 'two_outputs',
        [helper.make_tensor_value_info('input', TensorProto.FLOAT, list(input_shape))],
        [helper.make_tensor_value_info('scores', TensorProto.FLOAT,
                                       [n, num_anchors, num_classes]),
         helper.make_tensor_value_info('boxes', TensorProto.FLOAT, [n, num_anchors, 4])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', opset)],
                              producer_name='accel_ai_ros-test')
    return _save(model, path)


def make_legacy_model(
    path: PathLike, num_classes: int = 10, input_shape: Sequence[int] = (1, 3, 32, 32),
    seed: int = 0,
) -> Path:
    """Write an opset-9, IR-version-4 classifier whose initializers are also graph inputs.

    This is how PyTorch 1.x exported models (the shared face detector is one): the graph has
    one real input 'input' plus one graph input per initializer (4 here). Output 'logits'.
    """
    nodes, inits, graph_input, graph_output = _classifier_graph(
        input_shape, num_classes, int(input_shape[1]), 8, seed)
    init_inputs = [helper.make_tensor_value_info(t.name, t.data_type, list(t.dims))
                   for t in inits]
    graph = helper.make_graph(nodes, 'legacy', [graph_input] + init_inputs, [graph_output],
                              inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 9)],
                              producer_name='pytorch', producer_version='1.2')
    model.ir_version = 4
    return _save(model, path)


def make_identity_model(
    path: PathLike, elem_type: int = TensorProto.FLOAT, shape: Sequence[Dim] = (1, 4),
    input_name: str = 'input', output_name: str = 'output', opset: Optional[int] = None,
) -> Path:
    """Write a one-node Identity model of any element type (e.g. ``TensorProto.UINT8``)."""
    graph = helper.make_graph(
        [helper.make_node('Identity', [input_name], [output_name])], 'identity',
        [helper.make_tensor_value_info(input_name, elem_type, list(shape))],
        [helper.make_tensor_value_info(output_name, elem_type, list(shape))])
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid('', opset or DEFAULT_OPSET)],
        producer_name='accel_ai_ros-test')
    return _save(model, path)


def make_costly_classifier(path: PathLike, size: int = 96, channels: int = 64, layers: int = 3,
                           num_classes: int = 10, seed: int = 0) -> Path:
    """Write a classifier whose cost grows with ``layers`` 3x3 convolutions of ``channels``.

    Input 'input' (1, 3, size, size), output 'logits' (1, num_classes), like
    :func:`make_classifier`; the benchmark's builder, so that tests and
    ``benchmark adaptive`` run the same models.
    """
    from accel_ai_ros_tools.bench_adaptive import costly_classifier
    return costly_classifier(Path(path), size, channels, layers, num_classes, seed)


def make_bright_nan_model(path: PathLike, opset: int = DEFAULT_OPSET) -> Path:
    """
    Write a 3-class 'classifier' whose scores are NaN for bright images.

    scores = sqrt(0.6 - mean of each channel), input 'input' (1, 3, 8, 8) float32: finite
    for dark frames (and the grey warm-up frame), NaN when a channel's mean is over 0.6.
    """
    nodes = [
        helper.make_node('GlobalAveragePool', ['input'], ['pooled']),
        helper.make_node('Flatten', ['pooled'], ['flat'], axis=1),
        helper.make_node('Sub', ['limit', 'flat'], ['margin']),
        helper.make_node('Sqrt', ['margin'], ['scores']),
    ]
    limit = numpy_helper.from_array(np.array([0.6], np.float32), 'limit')
    graph = helper.make_graph(
        nodes, 'bright_nan',
        [helper.make_tensor_value_info('input', TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info('scores', TensorProto.FLOAT, [1, 3])], [limit])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', opset)],
                              producer_name='accel_ai_ros-test')
    return _save(model, path)
