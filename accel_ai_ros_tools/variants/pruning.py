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

"""Post-training pruning of an ONNX model's Conv, Gemm and MatMul weights (NumPy only).

Three levers, none of which needs PyTorch:

- ``'2:4'`` (:func:`prune_2_4`): in every group of four consecutive weights along the *input*
  channel dimension, the two smallest are set to zero. This is the pattern the sparse tensor
  cores of Ampere and later GPUs (Jetson Orin included) accelerate, and TensorRT uses it when
  an engine is built with sparse weights allowed. Layers whose input channels are not a
  multiple of four (the first convolution, depthwise convolutions) are skipped.
- ``'magnitude'`` (:func:`prune_magnitude`): unstructured; the smallest weights are set to
  zero, per layer (every layer loses the same fraction) or globally (one threshold).
- ``'channel'`` (:func:`prune_channels`): structured; the output channels with the lowest L1
  norm are *removed* together with the matching input channels of the consumers, so the
  layers really shrink and every backend, the CPU included, does less work.

Zeros alone change nothing on backends that store weights densely (ONNX Runtime on the CPU
does): only channel pruning makes such a model faster there. Each function returns a new
model and records what it pruned and what it skipped (and why) as JSON in the model's
``metadata_props`` under :data:`METADATA_KEY`; :func:`pruning_notes` reads it back.
Weights are read by initializer name, so old exports that list their initializers as graph
inputs (opset 9, PyTorch 1.x) work too.
"""

import json
from pathlib import Path
from typing import Any
from typing import Dict
from typing import List
from typing import Optional
from typing import Tuple

import numpy as np
import onnx
from onnx import numpy_helper

from accel_ai_ros.fileio import atomic_write
from accel_ai_ros_tools.variants import VariantError
from accel_ai_ros_tools.variants.onnx_fixes import with_min_ir_version

#: The pruning methods :func:`make_pruned_variant` accepts.
PRUNE_METHODS = ('2:4', 'magnitude', 'channel')
#: ``metadata_props`` key under which the pruning functions record what they did.
METADATA_KEY = 'accel_ai_ros.pruning'
#: Ops that act on each channel alone (the channel count passes through unchanged).
_CHANNELWISE = frozenset((
    'Relu', 'LeakyRelu', 'PRelu', 'Clip', 'Sigmoid', 'HardSigmoid', 'HardSwish', 'Tanh',
    'Elu', 'Selu', 'Celu', 'Softplus', 'Softsign', 'Identity', 'Dropout', 'Neg', 'Abs',
    'Exp', 'Sqrt', 'Erf', 'Cast'))
_BINARY = frozenset(('Add', 'Sub', 'Mul', 'Div', 'Pow', 'Max', 'Min'))
_POOLS = frozenset(('MaxPool', 'AveragePool', 'LpPool'))
_GLOBAL_POOLS = frozenset(('GlobalAveragePool', 'GlobalMaxPool', 'GlobalLpPool'))


class _Layer:
    """One prunable weight: its node, initializer name and where in/out channels live."""

    def __init__(self, node: onnx.NodeProto, weight: str, out_axis: int, in_axis: int) -> None:
        self.node = node
        self.weight = weight
        self.out_axis = out_axis
        self.in_axis = in_axis


def _copy(model: onnx.ModelProto) -> onnx.ModelProto:
    out = onnx.ModelProto()
    out.CopyFrom(model)
    return out


def _attr(node: onnx.NodeProto, name: str, default: int) -> int:
    for attribute in node.attribute:
        if attribute.name == name:
            return int(attribute.i)
    return default


def _set_attr(node: onnx.NodeProto, name: str, value: int) -> None:
    for attribute in node.attribute:
        if attribute.name == name:
            attribute.i = value
            return
    node.attribute.append(onnx.helper.make_attribute(name, value))


def _initializers(model: onnx.ModelProto) -> Dict[str, onnx.TensorProto]:
    return {t.name: t for t in model.graph.initializer}


def _uses(model: onnx.ModelProto) -> Dict[str, int]:
    """Count how many node inputs read each tensor name."""
    counts: Dict[str, int] = {}
    for node in model.graph.node:
        for name in node.input:
            counts[name] = counts.get(name, 0) + 1
    return counts


def _is_float(tensor: onnx.TensorProto) -> bool:
    return tensor.data_type in (onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16,
                                onnx.TensorProto.DOUBLE, onnx.TensorProto.BFLOAT16)


def layers(model: onnx.ModelProto) -> List[_Layer]:
    """Return the prunable weights: Conv, Gemm (B) and MatMul (2-D initializer B) weights.

    Conv weights are ``[O, I/group, kh, kw]``; Gemm's B is ``[O, I]`` with ``transB=1`` and
    ``[I, O]`` without; MatMul's B is ``[I, O]``. A weight shared by several nodes is left
    out, so pruning one layer never changes another.
    """
    inits = _initializers(model)
    uses = _uses(model)
    found = []
    for node in model.graph.node:
        if node.op_type not in ('Conv', 'Gemm', 'MatMul') or len(node.input) < 2:
            continue
        name = node.input[1]
        tensor = inits.get(name)
        if tensor is None or not _is_float(tensor) or uses.get(name, 0) != 1:
            continue
        if node.op_type == 'Conv' and len(tensor.dims) >= 3:
            found.append(_Layer(node, name, 0, 1))
        elif node.op_type == 'Gemm' and len(tensor.dims) == 2:
            trans_b = _attr(node, 'transB', 0)
            found.append(_Layer(node, name, 0 if trans_b else 1, 1 if trans_b else 0))
        elif node.op_type == 'MatMul' and len(tensor.dims) == 2:
            found.append(_Layer(node, name, 1, 0))
    return found


def _array(model: onnx.ModelProto, name: str) -> np.ndarray:
    return np.array(numpy_helper.to_array(_initializers(model)[name]))


def _store(model: onnx.ModelProto, name: str, values: np.ndarray) -> None:
    """Replace initializer ``name`` (and its graph-input declaration's shape, if any)."""
    for tensor in model.graph.initializer:
        if tensor.name == name:
            tensor.CopyFrom(numpy_helper.from_array(values.astype(
                numpy_helper.to_array(tensor).dtype), name))
    for value in model.graph.input:
        if value.name == name and value.type.HasField('tensor_type'):
            shape = value.type.tensor_type.shape
            del shape.dim[:]
            for size in values.shape:
                shape.dim.add().dim_value = int(size)


def _record(model: onnx.ModelProto, notes: Dict[str, Any]) -> None:
    kept = [p for p in model.metadata_props if p.key != METADATA_KEY]
    del model.metadata_props[:]
    model.metadata_props.extend(kept)
    model.metadata_props.add(key=METADATA_KEY, value=json.dumps(notes, sort_keys=True))


def pruning_notes(model: onnx.ModelProto) -> Dict[str, Any]:
    """Return what the last pruning function recorded in ``model`` ({} if none)."""
    for prop in model.metadata_props:
        if prop.key == METADATA_KEY:
            return dict(json.loads(prop.value))
    return {}


def _groups_of_four(weight: np.ndarray, layer: _Layer) -> np.ndarray:
    """View ``weight`` as ``[..., I/4, 4]``: consecutive input channels in the last axis."""
    moved = np.moveaxis(weight, layer.in_axis, -1)
    return moved.reshape(moved.shape[:-1] + (moved.shape[-1] // 4, 4))


def _2_4_applies(model: onnx.ModelProto, layer: _Layer) -> Optional[str]:
    """Return why 2:4 does not apply to ``layer``, or None when it does."""
    tensor = _initializers(model)[layer.weight]
    channels = int(tensor.dims[layer.in_axis])
    if channels % 4:
        return f'{channels} input channels are not a multiple of 4'
    return None


def prune_2_4(model: onnx.ModelProto) -> onnx.ModelProto:
    """Return a copy with two of every four consecutive input-channel weights set to zero.

    For a Conv weight ``[O, I, kh, kw]`` the groups run along I for each (o, kh, kw); the two
    largest magnitudes of each group are kept. Layers whose input channel count is not a
    multiple of four are skipped and listed in the notes.
    """
    out = _copy(model)
    pruned, skipped = [], {}
    for layer in layers(out):
        reason = _2_4_applies(out, layer)
        if reason:
            skipped[layer.weight] = reason
            continue
        weight = _array(out, layer.weight)
        groups = np.moveaxis(weight, layer.in_axis, -1).copy()
        shape = groups.shape
        groups = groups.reshape(-1, 4)
        order = np.argsort(np.abs(groups), axis=1, kind='stable')
        np.put_along_axis(groups, order[:, :2], 0.0, axis=1)
        _store(out, layer.weight, np.moveaxis(groups.reshape(shape), -1, layer.in_axis))
        pruned.append(layer.weight)
    _record(out, {'method': '2:4', 'pruned': pruned, 'skipped': skipped})
    return out


def check_2_4(model: onnx.ModelProto) -> Dict[str, bool]:
    """Return, for every layer whose input channels are a multiple of 4, if it is 2:4 sparse.

    True means at most two of every four consecutive input-channel weights are non-zero.
    """
    result = {}
    for layer in layers(model):
        if _2_4_applies(model, layer) is None:
            groups = _groups_of_four(_array(model, layer.weight), layer)
            result[layer.weight] = bool(np.all(np.count_nonzero(groups, axis=-1) <= 2))
    return result


def prune_magnitude(model: onnx.ModelProto, sparsity: float,
                    scope: str = 'global') -> onnx.ModelProto:
    """Return a copy with the smallest-magnitude weights set to zero (unstructured).

    ``scope='global'`` (the default) zeroes the ``sparsity`` smallest of all prunable weights
    together (one threshold, as ``torch.nn.utils.prune.global_unstructured``): big layers
    with many small weights lose more, small sensitive ones (a first conv, depthwise filters)
    less. ``scope='layer'`` zeroes exactly ``sparsity`` of each layer. Without fine-tuning,
    global kept the shared face detector's face at 50 % (per-layer lost it; docs/pruning.md).
    Biases are never pruned.
    """
    if not 0.0 <= sparsity < 1.0:
        raise VariantError(f'magnitude sparsity must be in [0, 1), got {sparsity}; pass e.g. '
                           f'0.5 to zero half of the weights')
    if scope not in ('layer', 'global'):
        raise VariantError(f"scope must be 'layer' or 'global', got {scope!r}")
    out = _copy(model)
    found = layers(out)
    weights = [_array(out, layer.weight) for layer in found]
    if scope == 'global' and weights:
        flat = np.concatenate([np.abs(w).ravel() for w in weights])
        count = int(round(sparsity * flat.size))
        drop = np.zeros(flat.size, dtype=bool)
        drop[np.argsort(flat, kind='stable')[:count]] = True
        offsets = np.cumsum([0] + [w.size for w in weights])
        masks = [drop[a:b].reshape(w.shape) for a, b, w in
                 zip(offsets[:-1], offsets[1:], weights)]
    else:
        masks = []
        for w in weights:
            drop = np.zeros(w.size, dtype=bool)
            smallest = np.argsort(np.abs(w).ravel(), kind='stable')
            drop[smallest[:int(round(sparsity * w.size))]] = True
            masks.append(drop.reshape(w.shape))
    for layer, w, mask in zip(found, weights, masks):
        _store(out, layer.weight, np.where(mask, 0.0, w))
    _record(out, {'method': 'magnitude', 'sparsity': sparsity, 'scope': scope,
                  'pruned': [layer.weight for layer in found], 'skipped': {}})
    return out


def _consumers(model: onnx.ModelProto) -> Dict[str, List[onnx.NodeProto]]:
    found: Dict[str, List[onnx.NodeProto]] = {}
    for node in model.graph.node:
        for name in node.input:
            found.setdefault(name, []).append(node)
    return found


def _channel_axis_of_const(state: str, shape: Tuple[int, ...]) -> Optional[int]:
    """Return the axis of a broadcast operand that meets the channel axis, if any."""
    from_right = 1 if state in ('flat', 'last') else 3
    return len(shape) - from_right if len(shape) >= from_right else None


def _plan(model: onnx.ModelProto, layer: _Layer, channels: int
          ) -> Tuple[Optional[str], List[Tuple[str, int]], List[onnx.NodeProto], List[str]]:
    """Follow ``layer``'s output to the layers that read its channels.

    Return ``(reason, slices, grouped, tensors)``: why it is unsafe (or None), the
    ``(initializer, axis)`` pairs to slice, the depthwise Convs whose ``group`` shrinks and
    the intermediate tensors whose shapes change.
    """
    inits = _initializers(model)
    uses = _uses(model)
    outputs = {v.name for v in model.graph.output}
    consumers = _consumers(model)
    state = {'Conv': 'conv', 'Gemm': 'flat', 'MatMul': 'last'}[layer.node.op_type]
    if layer.node.op_type == 'Conv' and _attr(layer.node, 'group', 1) != 1:
        return ('grouped or depthwise convolution (its channels follow the layer that '
                'feeds it)'), [], [], []
    slices: List[Tuple[str, int]] = [(layer.weight, layer.out_axis)]
    if len(layer.node.input) > 2 and layer.node.input[2]:
        bias = layer.node.input[2]
        if bias not in inits or uses.get(bias, 0) != 1:
            return 'bias is not an initializer of its own', [], [], []
        if int(np.prod(inits[bias].dims)) == channels:
            slices.append((bias, int(np.argmax(inits[bias].dims))))
    grouped: List[onnx.NodeProto] = []
    tensors: List[str] = []
    todo = [(layer.node.output[0], state)]
    while todo:
        tensor, state = todo.pop()
        tensors.append(tensor)
        if tensor in outputs:
            return f'{tensor!r} is a graph output', [], [], []
        readers = consumers.get(tensor, [])
        if not readers:
            return f'{tensor!r} is not read by any node', [], [], []
        for node in readers:
            op = node.op_type
            others = [n for n in node.input if n and n != tensor]
            own = all(n in inits and uses.get(n, 0) == 1 for n in others)
            if op in ('Conv', 'Gemm', 'MatMul', 'BatchNormalization', 'PRelu') and not own:
                return f'{op} reads a shared or computed parameter', [], [], []
            if op == 'Conv' and node.input[0] == tensor and state in ('conv', 'conv1'):
                group = _attr(node, 'group', 1)
                weight = inits[node.input[1]]
                if group == 1:
                    slices.append((node.input[1], 1))
                    continue
                if group == channels and int(weight.dims[0]) == channels \
                        and int(weight.dims[1]) == 1:
                    slices.append((node.input[1], 0))
                    if len(node.input) > 2 and node.input[2]:
                        slices.append((node.input[2], 0))
                    grouped.append(node)
                    todo.append((node.output[0], 'conv'))
                    continue
                return 'grouped (not depthwise) convolution reads the channels', [], [], []
            # Gemm's A is 2-D, so a channels-last tensor it reads has its channels on axis 1.
            if op == 'Gemm' and node.input[0] == tensor and state in ('flat', 'last') \
                    and not _attr(node, 'transA', 0):
                slices.append((node.input[1], 1 if _attr(node, 'transB', 0) else 0))
                continue
            if op == 'MatMul' and node.input[0] == tensor and state in ('flat', 'last') \
                    and node.input[1] in inits and len(inits[node.input[1]].dims) == 2:
                slices.append((node.input[1], 0))
                continue
            if op == 'BatchNormalization' and node.input[0] == tensor and state != 'last':
                slices.extend((name, 0) for name in node.input[1:5])
                todo.append((node.output[0], state))
                continue
            if op in _CHANNELWISE and node.input[0] == tensor and len(node.output) >= 1 \
                    and (op != 'PRelu' or int(np.prod(inits[node.input[1]].dims)) == 1):
                todo.append((node.output[0], state))
                continue
            if op in _POOLS and state == 'conv':
                todo.append((node.output[0], 'conv'))
                continue
            if op in _GLOBAL_POOLS and state in ('conv', 'conv1'):
                todo.append((node.output[0], 'conv1'))
                continue
            if op == 'Flatten' and _attr(node, 'axis', 1) == 1 and state in ('conv1', 'flat'):
                todo.append((node.output[0], 'flat'))
                continue
            if op in _BINARY and len(others) == 1 and others[0] in inits \
                    and uses.get(others[0], 0) == 1:
                shape = tuple(int(d) for d in inits[others[0]].dims)
                axis = _channel_axis_of_const(state, shape)
                if axis is None or shape[axis] == 1:
                    todo.append((node.output[0], state))
                    continue
                if shape[axis] == channels:
                    slices.append((others[0], axis))
                    todo.append((node.output[0], state))
                    continue
            return f'{op} reads the channels of {tensor!r}', [], [], []
    return None, slices, grouped, tensors


def prune_channels(model: onnx.ModelProto, fraction: float) -> onnx.ModelProto:
    """Return a copy whose layers have ``fraction`` of their output channels removed.

    For each Conv (group 1), Gemm or MatMul layer, the output channels with the lowest L1
    weight norm are deleted, with the matching bias entries, BatchNormalization parameters,
    depthwise Conv filters and the input channels of every layer that reads them. Only
    layers whose output reaches other Conv/Gemm/MatMul layers through per-channel ops
    (Relu and other activations, BatchNormalization, depthwise Conv, pooling, Flatten after a
    global pool, arithmetic with a per-channel constant) are pruned; the others (those that
    feed a graph output, Reshape, Concat, a residual Add ...) are skipped with the reason.
    """
    if not 0.0 <= fraction < 1.0:
        raise VariantError(f'channel fraction must be in [0, 1), got {fraction}; pass e.g. '
                           f'0.25 to remove a quarter of the output channels of each layer')
    out = _copy(model)
    pruned: Dict[str, List[int]] = {}
    skipped: Dict[str, str] = {}
    for weight_name in [layer.weight for layer in layers(out)]:
        layer = next(x for x in layers(out) if x.weight == weight_name)
        weight = _array(out, layer.weight)
        channels = int(weight.shape[layer.out_axis])
        remove = int(np.floor(fraction * channels))
        if remove < 1:
            skipped[layer.weight] = f'{channels} output channels: nothing to remove'
            continue
        reason, slices, grouped, tensors = _plan(out, layer, channels)
        if reason:
            skipped[layer.weight] = reason
            continue
        norms = np.abs(np.moveaxis(weight, layer.out_axis, 0)).reshape(channels, -1).sum(1)
        keep = np.sort(np.argsort(-norms, kind='stable')[:channels - remove])
        for name, axis in slices:
            _store(out, name, np.take(_array(out, name), keep, axis=axis))
        for node in grouped:
            _set_attr(node, 'group', len(keep))
        kept_info = [v for v in out.graph.value_info if v.name not in set(tensors)]
        del out.graph.value_info[:]
        out.graph.value_info.extend(kept_info)
        pruned[layer.weight] = [channels, len(keep)]
    _record(out, {'method': 'channel', 'fraction': fraction, 'pruned': pruned,
                  'skipped': skipped})
    return out


def sparsity_report(model: onnx.ModelProto) -> Dict[str, Any]:
    """Return per-layer and total zero fractions and parameter counts.

    ``layers`` maps each prunable weight to its op, shape, ``params``, ``zeros`` and
    ``sparsity``; ``prunable_*`` sum those layers; ``total_params`` counts every float
    initializer (biases and normalisation parameters included).
    """
    per_layer: Dict[str, Any] = {}
    for layer in layers(model):
        weight = _array(model, layer.weight)
        zeros = int(weight.size - np.count_nonzero(weight))
        per_layer[layer.weight] = {'op': layer.node.op_type, 'shape': list(weight.shape),
                                   'params': int(weight.size), 'zeros': zeros,
                                   'sparsity': round(zeros / max(weight.size, 1), 6)}
    params = sum(v['params'] for v in per_layer.values())
    zeros = sum(v['zeros'] for v in per_layer.values())
    total = sum(int(np.prod(t.dims)) for t in model.graph.initializer if _is_float(t))
    return {'layers': per_layer, 'prunable_params': params, 'prunable_zeros': zeros,
            'sparsity': round(zeros / max(params, 1), 6), 'total_params': total}


def write_bytes_atomically(data: bytes, out_path: Path) -> Path:
    """Write ``data`` to ``out_path`` via a temp file in the same folder and ``os.replace``.

    On any failure the temp file is removed and ``out_path`` keeps its old content.
    """
    return atomic_write(out_path, data)


def write_model_atomically(model: onnx.ModelProto, out_path: Path) -> Path:
    """
    Check ``model`` and write it to ``out_path`` atomically (:func:`write_bytes_atomically`).

    The file carries the lowest IR version the model's opsets need
    (:func:`~accel_ai_ros_tools.variants.onnx_fixes.with_min_ir_version`).
    """
    model = with_min_ir_version(model)
    try:
        data = model.SerializeToString()
    except ValueError as exc:  # protobuf's 2 GiB limit
        raise VariantError(f'cannot serialise the pruned model ({exc}); models over 2 GiB '
                           f'need external data, which pruning does not write') from exc
    try:
        onnx.checker.check_model(model)
    except onnx.checker.ValidationError as exc:
        raise VariantError(f'the pruned model is not valid ONNX ({exc}); please report it '
                           f'with the source model') from exc
    return write_bytes_atomically(data, out_path)


def prune(model: onnx.ModelProto, method: str, sparsity: float,
          scope: str = 'global') -> onnx.ModelProto:
    """Apply one of :data:`PRUNE_METHODS`; ``sparsity`` is ignored for '2:4'.

    ``scope`` ('global' or 'layer') applies to 'magnitude' only.
    """
    if method == '2:4':
        return prune_2_4(model)
    if method == 'magnitude':
        return prune_magnitude(model, sparsity, scope)
    if method == 'channel':
        return prune_channels(model, sparsity)
    raise VariantError(f'unknown pruning method {method!r}; choose one of '
                       f'{", ".join(PRUNE_METHODS)}')


def make_pruned_variant(model_path: Path, method: str, sparsity: float,
                        out_path: Path, scope: str = 'global') -> Path:
    """Prune the ONNX file ``model_path`` with ``method`` and write it atomically to ``out_path``.

    ``sparsity`` is the fraction of weights zeroed ('magnitude', over all layers together
    unless ``scope='layer'``) or of each layer's output channels removed ('channel'); it is
    ignored for '2:4', which always zeroes half. Returns
    ``out_path``. The accuracy cost is not hidden: measure the result (``benchmark
    precision``) before deploying it.
    """
    if method not in PRUNE_METHODS:
        raise VariantError(f'unknown pruning method {method!r}; choose one of '
                           f'{", ".join(PRUNE_METHODS)}')
    model_path = Path(model_path)
    if not model_path.is_file():
        raise VariantError(f'{str(model_path)!r} does not exist; pass an ONNX model file')
    try:
        model = onnx.load(str(model_path))
    except Exception as exc:  # protobuf raises DecodeError, onnx raises its own errors
        raise VariantError(f'cannot read {str(model_path)!r} as ONNX ({exc}); is it an ONNX '
                           f'file?') from exc
    return write_model_atomically(prune(model, method, sparsity, scope), Path(out_path))


def variant_notes(model: onnx.ModelProto) -> str:
    """Return a one-line summary for a manifest's ``notes``: method, sparsity, parameters."""
    notes = pruning_notes(model)
    report = sparsity_report(model)
    text = (f"pruning {notes.get('method', 'none')}: {report['sparsity']:.1%} of "
            f"{report['prunable_params']} Conv/Gemm/MatMul weights are zero; "
            f"{report['total_params']} parameters")
    if notes.get('skipped'):
        text += f"; {len(notes['skipped'])} layers skipped"
    return text
