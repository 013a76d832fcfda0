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

"""What each variant changes (its lever) and what its file holds: parameters, zeros, bytes.

Three levers sit in one trade-off study: ``'precision'`` (FP32/FP16/INT8 of the same
network), ``'pruning'`` (weights zeroed, or channels removed, possibly then converted to
FP16/INT8) and ``'architecture'`` (a different network, e.g. depthwise-separable).
:func:`lever_of` reads it from a manifest entry; :func:`model_stats` counts a file's
parameters, non-zero parameters and its zlib-compressed size; :func:`sparsity_caveat` and
:func:`report_caveats` say plainly where zeros cannot make a backend faster.
"""

from pathlib import Path
from typing import Any
from typing import Dict
from typing import List
from typing import Mapping
from typing import Optional
from typing import Sequence
import zlib

LEVERS = ('precision', 'pruning', 'architecture')
#: zlib level used for ``size_compressed_bytes`` (DEFLATE, as ``gzip -9`` without its header).
ZLIB_LEVEL = 9
#: A pruned row with at least this fraction of zero parameters gets the dense-backend caveat.
SPARSE_FRACTION = 0.05
#: Any row with at least this fraction gets it too; below it, zeros are usually INT8
#: rounding of small weights, not sparsity anyone asked for.
UNPRUNED_SPARSE_FRACTION = 0.25
#: Pruning methods whose zeros stay in the tensors (shapes unchanged).
#: Backends here that store and multiply zeros like any other weight.
DENSE_BACKENDS = ('onnxruntime',)

_QDQ = ('QuantizeLinear', 'DequantizeLinear')


def lever_of(options: Optional[Mapping[str, Any]], notes: str = '') -> str:
    """Return the lever of a manifest entry from its ``options`` (and ``notes``).

    ``options['lever']`` wins; else a pruning method (``pruning``/``method``/``prune``)
    means 'pruning', an ``architecture`` other than the reference means 'architecture',
    and anything else (FP32, FP16, INT8 of the source) is 'precision'.
    """
    opts = dict(options or {})
    if opts.get('lever') in LEVERS:
        return str(opts['lever'])
    if opts.get('pruning') or opts.get('prune') or opts.get('method') in ('2:4', 'magnitude',
                                                                          'channel'):
        return 'pruning'
    if opts.get('architecture'):
        return 'architecture'
    if notes.lower().startswith('pruned') or notes.lower().startswith('pruning '):
        return 'pruning'
    return 'precision'


def compressed_size(data: bytes) -> int:
    """Return the size of ``data`` compressed with zlib at :data:`ZLIB_LEVEL`."""
    return len(zlib.compress(data, ZLIB_LEVEL))


def _weight_initializers(model: Any) -> List[Any]:
    """Return the initializers that hold weights, not quantization scales or shapes.

    Kept: floating-point initializers and the input of a DequantizeLinear (INT8 weights,
    INT32 biases). Left out: scales and zero points of Quantize/DequantizeLinear and integer
    constants (shapes, axes).
    """
    import onnx
    qparams = set()
    dequantized = set()
    for node in model.graph.node:
        if node.op_type in _QDQ:
            qparams.update(node.input[1:])
            if node.op_type == 'DequantizeLinear' and node.input:
                dequantized.add(node.input[0])
    floats = (onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.DOUBLE,
              onnx.TensorProto.BFLOAT16)
    return [t for t in model.graph.initializer if t.name not in qparams
            and (t.data_type in floats or t.name in dequantized)]


def model_stats(path: Path) -> Dict[str, Optional[int]]:
    """Return ``parameters``, ``nonzero_parameters`` and ``size_compressed_bytes`` of a file.

    Parameters are the elements of the weight initializers (see
    :func:`_weight_initializers`); for a file that is not ONNX (an engine, a TorchScript
    file) the counts are None and only the compressed size is given.
    """
    data = Path(path).read_bytes()
    stats: Dict[str, Optional[int]] = {'parameters': None, 'nonzero_parameters': None,
                                       'size_compressed_bytes': compressed_size(data)}
    if Path(path).suffix.lower() != '.onnx':
        return stats
    try:
        import numpy as np
        import onnx
        from onnx import numpy_helper
        model = onnx.load_from_string(data)
        params = 0
        nonzero = 0
        for tensor in _weight_initializers(model):
            values = numpy_helper.to_array(tensor)
            params += int(values.size)
            nonzero += int(np.count_nonzero(values))
    except Exception:  # protobuf's DecodeError, external data and the like
        return stats
    stats.update(parameters=params, nonzero_parameters=nonzero)
    return stats


def zero_fraction(row: Mapping[str, Any]) -> Optional[float]:
    """Return the fraction of a row's parameters that are zero, or None when unknown."""
    params = row.get('parameters')
    nonzero = row.get('nonzero_parameters')
    if not isinstance(params, int) or not isinstance(nonzero, int) or params <= 0:
        return None
    return 1.0 - nonzero / params


def zeros_run_dense(row: Mapping[str, Any]) -> bool:
    """Return True when a row's zeros are stored and multiplied densely by its backend."""
    zeros = zero_fraction(row)
    if row.get('backend') not in DENSE_BACKENDS or zeros is None:
        return False
    limit = SPARSE_FRACTION if row.get('lever') == 'pruning' else UNPRUNED_SPARSE_FRACTION
    return zeros >= limit


def sparsity_caveat(row: Mapping[str, Any]) -> str:
    """Return the row's caveat about zero weights on its backend ('' when none applies)."""
    if not zeros_run_dense(row):
        return ''
    zeros = zero_fraction(row) or 0.0
    return (f'{zeros:.0%} of the weights are zero, but {row.get("backend")} stores and '
            f'multiplies them densely: no speed-up is possible from them on this backend; '
            f'the gain is the compressed file only')


def report_caveats(rows: Sequence[Mapping[str, Any]]) -> List[str]:
    """Return the report-level caveats for ``rows`` (one sentence each)."""
    caveats = [f"{r['variant']} on {r['backend']}: {r['int8_target_warning']}" for r in rows
               if r.get('int8_target_warning')]
    dense = [r for r in rows if zeros_run_dense(r)]
    if dense:
        names = ', '.join(sorted({str(r['variant']) for r in dense}))
        backends = ', '.join(sorted({str(r['backend']) for r in dense}))
        caveats.append(
            f'{backends} on this machine stores zero weights densely, so unstructured and '
            f'2:4 sparse variants ({names}) cannot be faster there than their dense '
            f'originals; any latency difference is noise. Only channel pruning and a '
            f'different architecture change the arithmetic (2:4 needs sparse tensor cores '
            f'through TensorRT).')
    if any('size_compressed_bytes' in r for r in rows):
        caveats.append(f'size_compressed_bytes is the model file compressed with zlib level '
                       f'{ZLIB_LEVEL} (DEFLATE, as gzip -9 without its header): the storage '
                       f'gain of zeroed weights.')
    return caveats
