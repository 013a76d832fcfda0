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

"""An FP16 model from an FP32 one, with FP32 inputs and outputs.

The conversion is ``convert_float_to_float16`` with ``keep_io_types=True``, from ONNX
Runtime's own copy (``onnxruntime.transformers.float16``), else from onnxconverter-common
(the tool ONNX Runtime's float16 guide names). ONNX Runtime's copy is preferred: with
blocked operators that feed graph outputs, onnxconverter-common 1.16 (and ONNX Runtime 1.23's
copy) writes two Cast nodes of the same name (an invalid model) unless every node has its own
name, which :func:`name_nodes` gives first. With ``keep_io_types=True`` the node feeds the
same float32 tensor to every precision and reads float32 outputs. Every tensor type is written
into the graph, so the result is *strongly typed*: TensorRT's strongly typed networks and ONNX
Runtime run each node in the type the file says.

Operators in the block list stay in FP32 behind Cast nodes. The default list adds to the
converter's own list (operators without float16 kernels) those whose results overflow,
underflow or lose digits in float16: exponentials and logarithms, powers and roots,
normalising reductions and softmax. Div is not blocked by default: on the shared face
detector blocking Div, Softmax and Exp changed no output (score and box errors are the
convolution body's), and a Cast pair around every division costs time in attention layers.
Pass ``op_block_list=()`` to convert everything the converter can.
"""

from typing import Any
from typing import Dict
from typing import Iterable
from typing import List
from typing import Tuple
import warnings

import onnx

from accel_ai_ros.errors import BackendUnavailableError
from accel_ai_ros.errors import collapse_whitespace
from accel_ai_ros_tools.variants import VariantError
from accel_ai_ros_tools.variants.onnx_fixes import DEFAULT_OPSET
from accel_ai_ros_tools.variants.onnx_fixes import prepare_model
from accel_ai_ros_tools.variants.onnx_fixes import run_check
from accel_ai_ros_tools.variants.onnx_fixes import with_min_ir_version

#: Operators kept in FP32 by default (on top of the converter's own list).
DEFAULT_FP16_BLOCK_LIST: Tuple[str, ...] = (
    'Softmax', 'LogSoftmax', 'Exp', 'Log', 'Pow', 'Sqrt', 'Reciprocal',
    'ReduceMean', 'ReduceSum', 'ReduceSumSquare', 'ReduceL2', 'ReduceLogSumExp',
    'LayerNormalization', 'InstanceNormalization', 'Erf',
)
_INSTALL_HINT = 'install one with: pip install onnxruntime (or onnxconverter-common)'


def _converter() -> Any:
    """Return ONNX Runtime's float16 module, else onnxconverter-common's."""
    try:
        from onnxruntime.transformers import float16
    except ImportError:
        try:
            from onnxconverter_common import float16
        except ImportError as exc:
            raise BackendUnavailableError(
                f'no float16 converter is importable ({exc}); {_INSTALL_HINT}') from exc
    return float16


def name_nodes(model: onnx.ModelProto) -> onnx.ModelProto:
    """
    Return a copy whose top-level nodes all have distinct, non-empty names.

    The converters name the Cast nodes and tensors they add after the node they serve
    (``node.name + '_output_cast_0'``): in ONNX Runtime 1.23's copy (the newest for Python
    3.10) and onnxconverter-common 1.16, two unnamed (or equally named) blocked nodes that
    feed graph outputs give two tensors of one name, a model ONNX Runtime refuses. Named
    nodes keep their names; the others get ``<op_type>_<index>``.
    """
    out = onnx.ModelProto()
    out.CopyFrom(model)
    taken = {node.name for node in out.graph.node if node.name}
    seen = set()
    for index, node in enumerate(out.graph.node):
        if node.name and node.name not in seen:
            seen.add(node.name)
            continue
        name = f'{node.op_type}_{index}'
        while name in taken:
            name += '_'
        node.name = name
        taken.add(name)
        seen.add(name)
    return out


def block_list(op_block_list: Iterable[str] = DEFAULT_FP16_BLOCK_LIST) -> List[str]:
    """Return the converter's own block list plus ``op_block_list``, sorted."""
    return sorted(set(_converter().DEFAULT_OP_BLOCK_LIST) | set(op_block_list))


def convert_fp16(model: onnx.ModelProto,
                 op_block_list: Iterable[str] = DEFAULT_FP16_BLOCK_LIST,
                 target_opset: int = DEFAULT_OPSET,
                 check: bool = True) -> Tuple[onnx.ModelProto, Dict[str, Any]]:
    """
    Return the FP16 model and the options used (for the manifest).

    The model goes through :func:`~accel_ai_ros_tools.variants.onnx_fixes.prepare_model` first.
    With ``check``, ONNX Runtime loads and runs the result once; a failure raises
    :class:`VariantError`.
    """
    float16 = _converter()
    fixed = name_nodes(prepare_model(model, target_opset=target_opset))
    blocked = block_list(op_block_list)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        try:
            converted = float16.convert_float_to_float16(
                fixed, keep_io_types=True, op_block_list=blocked)
            converted = with_min_ir_version(converted)
        except Exception as exc:  # the converter raises plain ValueError / RuntimeError
            message = collapse_whitespace(exc)[:300]
            raise VariantError(f'the float16 conversion fails ({message}); try blocking '
                               f'the operator it names (--fp16-block-ops)') from None
    clipped = sum('truncated' in str(w.message) for w in caught)
    if check:
        run_check(converted)
    kept = sorted({n.op_type for n in fixed.graph.node} & set(blocked))
    options: Dict[str, Any] = {
        'keep_io_types': True,
        'op_block_list': sorted(set(op_block_list)),
        'ops_kept_fp32': kept,
        'opset': int(next(o.version for o in converted.opset_import
                          if o.domain in ('', 'ai.onnx'))),
        'constants_clipped': int(clipped),
    }
    return converted, options
