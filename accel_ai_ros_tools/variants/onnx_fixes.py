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

"""Make real-world ONNX exports convertible: pure functions from ModelProto to ModelProto.

Old exporters (PyTorch 1.x among them) wrote opset 9 to 12 graphs that also list every
initializer as a graph input. ONNX Runtime then treats the weights as overridable inputs, so
its float16 converter leaves them typed float while converting their data, and its static
quantizer writes per-channel ``DequantizeLinear`` nodes with an ``axis`` that only opset 13
defines. :func:`prepare_model` chains the fixes; each one is usable alone and never changes
the argument it is given.
"""

from typing import Dict
from typing import List
from typing import Optional
from typing import Sequence

import numpy as np
import onnx
from onnx import shape_inference
from onnx import version_converter

from accel_ai_ros.errors import collapse_whitespace
from accel_ai_ros_tools.variants import VariantError

#: Per-channel QuantizeLinear / DequantizeLinear (their ``axis`` attribute) need opset 13.
MIN_OPSET = 13
#: Opset an older model is upgraded to; TensorRT 8.6 to 10 and ONNX Runtime all read it.
DEFAULT_OPSET = 17


def _copy(model: onnx.ModelProto) -> onnx.ModelProto:
    out = onnx.ModelProto()
    out.CopyFrom(model)
    return out


def with_min_ir_version(model: onnx.ModelProto) -> onnx.ModelProto:
    """
    Return a copy whose IR version is the lowest its operator set imports allow.

    ``onnx.helper.make_model`` and ONNX's converters write the newest IR version of the
    installed onnx package, which older runtimes refuse to load (ONNX Runtime 1.23, the newest
    for Python 3.10, reads IR 11 at most, as does TensorRT 10's parser). Every model this
    package writes goes through this function, so any runtime that knows its opsets loads it.
    """
    out = _copy(model)
    needed = int(onnx.helper.find_min_ir_version_for(list(out.opset_import),
                                                     ignore_unknown=True))
    if len(out.functions):
        needed = max(needed, 8)  # model-local functions came with IR version 8
    out.ir_version = needed
    return out


def default_opset(model: onnx.ModelProto) -> int:
    """Return the version of the default ('' or 'ai.onnx') operator set the model imports."""
    for entry in model.opset_import:
        if entry.domain in ('', 'ai.onnx'):
            return int(entry.version)
    raise VariantError('the model imports no default ONNX operator set; it is not a valid '
                       'ONNX model (check it with onnx.checker.check_model)')


def remove_initializer_inputs(model: onnx.ModelProto) -> onnx.ModelProto:
    """Return a copy without initializers listed as graph inputs, and without unused ones.

    Old exporters list every weight as a graph input, and PyTorch's leave BatchNorm's
    ``num_batches_tracked`` counters that no node reads; ONNX Runtime warns once per such
    initializer on every load, which floods the logs of every tool that loads the model.
    """
    out = _copy(model)
    weights = {t.name for t in out.graph.initializer}
    keep = [v for v in out.graph.input if v.name not in weights]
    if len(keep) != len(out.graph.input):
        del out.graph.input[:]
        out.graph.input.extend(keep)
    has_subgraphs = any(attr.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS)
                        for node in out.graph.node for attr in node.attribute)
    if has_subgraphs:  # If/Loop bodies may read outer initializers: keep them all
        return out
    used = {name for node in out.graph.node for name in node.input}
    used.update(v.name for v in out.graph.output)
    unused = [t for t in out.graph.initializer if t.name not in used]
    for tensor in unused:
        out.graph.initializer.remove(tensor)
    return out


def upgrade_opset(model: onnx.ModelProto, target: int = DEFAULT_OPSET,
                  minimum: int = MIN_OPSET) -> onnx.ModelProto:
    """
    Return a copy at opset ``target`` when the model's opset is below ``minimum``.

    Uses :func:`onnx.version_converter.convert_version` and raises the IR version to what
    the new opset needs. A model already at ``minimum`` or later is returned unchanged (as a
    copy): converting a working graph without need only risks breaking it.
    """
    if target < minimum:
        raise VariantError(f'target opset {target} is below the minimum {minimum}; '
                           f'choose an opset of at least {minimum}')
    current = default_opset(model)
    if current >= minimum:
        return _copy(model)
    weights = {t.name for t in model.graph.initializer}
    if any(v.name in weights for v in model.graph.input):
        model = remove_initializer_inputs(model)
    try:
        out = version_converter.convert_version(model, target)
    except Exception as exc:  # the converter raises plain RuntimeError / ValueError
        message = collapse_whitespace(exc)[:300]
        raise VariantError(
            f'cannot upgrade the model from opset {current} to {target} with '
            f'onnx.version_converter ({message}); re-export it with opset {target} '
            f'(e.g. torch.onnx.export(..., opset_version={target}))') from None
    needed = onnx.helper.find_min_ir_version_for(list(out.opset_import))
    out.ir_version = max(int(out.ir_version), int(needed))
    return out


def infer_shapes(model: onnx.ModelProto) -> onnx.ModelProto:
    """Return a copy with ONNX shape and type inference run (types of every tensor)."""
    try:
        return shape_inference.infer_shapes(model, check_type=True, data_prop=True)
    except Exception as exc:
        message = collapse_whitespace(exc)[:300]
        raise VariantError(f'ONNX shape inference fails on the model ({message}); check it '
                           f'with onnx.checker.check_model and re-export it') from None


def _is_dynamic(dim: onnx.TensorShapeProto.Dimension) -> bool:
    return not dim.HasField('dim_value') or dim.dim_value <= 0


def fix_batch_dim(model: onnx.ModelProto, batch: int = 1) -> onnx.ModelProto:
    """
    Return a copy whose inputs' and outputs' dynamic first dimension is ``batch``.

    Calibration feeds one frame at a time, and a fixed batch lets shape inference give every
    intermediate tensor a static shape. Other dynamic dimensions stay dynamic; the inferred
    intermediate shapes are dropped so that inference can recompute them.
    """
    if batch < 1:
        raise VariantError(f'batch must be a positive integer, got {batch}')
    out = _copy(model)
    weights = {t.name for t in out.graph.initializer}
    changed = False
    for value in list(out.graph.input) + list(out.graph.output):
        if value.name in weights or not value.type.HasField('tensor_type'):
            continue
        shape = value.type.tensor_type.shape
        if len(shape.dim) and _is_dynamic(shape.dim[0]):
            shape.dim[0].Clear()
            shape.dim[0].dim_value = batch
            changed = True
    if changed:
        del out.graph.value_info[:]
    return out


def prepare_model(model: onnx.ModelProto, target_opset: int = DEFAULT_OPSET,
                  fix_batch: bool = False) -> onnx.ModelProto:
    """
    Apply every fix: initializer inputs, opset, (batch), shapes, IR version; then check it.

    Every graph output is kept, in order. Raises :class:`VariantError` naming the step that
    failed.
    """
    outputs = [o.name for o in model.graph.output]
    out = upgrade_opset(remove_initializer_inputs(model), target=target_opset)
    if fix_batch:
        out = fix_batch_dim(out)
    out = with_min_ir_version(infer_shapes(out))
    if [o.name for o in out.graph.output] != outputs:
        raise VariantError(f'the fixes changed the model outputs {outputs}; please report it')
    try:
        onnx.checker.check_model(out)
    except onnx.checker.ValidationError as exc:
        message = collapse_whitespace(exc)[:300]
        raise VariantError(f'the fixed model is not valid ONNX ({message}); re-export the '
                           f'model with a recent exporter') from None
    return out


def input_names(model: onnx.ModelProto) -> List[str]:
    """Return the names of the real graph inputs (initializers listed as inputs excluded)."""
    weights = {t.name for t in model.graph.initializer}
    return [v.name for v in model.graph.input if v.name not in weights]


def _feed_shape(value: onnx.ValueInfoProto, fallback: int) -> List[int]:
    dims = value.type.tensor_type.shape.dim
    return [1 if i == 0 and _is_dynamic(d) else (fallback if _is_dynamic(d) else d.dim_value)
            for i, d in enumerate(dims)]


def run_check(model: onnx.ModelProto, feeds: Optional[Dict[str, np.ndarray]] = None,
              providers: Sequence[str] = ('CPUExecutionProvider',),
              fallback_dim: int = 64) -> List[np.ndarray]:
    """
    Load ``model`` in ONNX Runtime and run it once; return the outputs.

    Without ``feeds``, every input gets zeros of its shape (dynamic dimensions: 1 for the
    batch, ``fallback_dim`` elsewhere). Raises :class:`VariantError` when loading or running
    fails.
    """
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.intra_op_num_threads = 1
    try:
        session = ort.InferenceSession(model.SerializeToString(), options,
                                       providers=list(providers))
        if feeds is None:
            weights = {t.name for t in model.graph.initializer}
            feeds = {}
            for value in model.graph.input:
                if value.name in weights:
                    continue
                dtype = onnx.helper.tensor_dtype_to_np_dtype(value.type.tensor_type.elem_type)
                feeds[value.name] = np.zeros(_feed_shape(value, fallback_dim), dtype=dtype)
        return [np.asarray(v) for v in session.run(None, feeds)]
    except Exception as exc:  # ONNX Runtime raises its own pybind11 exception types
        message = collapse_whitespace(exc)[:400]
        raise VariantError(f'ONNX Runtime cannot run the converted model ({message})') from None
