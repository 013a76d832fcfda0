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

"""Explicit INT8 quantization: QuantizeLinear / DequantizeLinear (QDQ) nodes, for two targets.

- ``tensorrt``: the form TensorRT's explicit quantization consumes (its only INT8 path from
  TensorRT 11 on): signed int8 with zero point 0 for activations and weights (symmetric),
  per-channel weight scales (``axis`` on the weight's DequantizeLinear, opset 13+), a
  dedicated Q/DQ pair per consumer (TensorRT cannot share one, as ONNX Runtime's quantizer
  notes) and float biases (TensorRT has no int32 DequantizeLinear).
- ``cpu``: what ONNX Runtime's CPU kernels run fastest and most accurately: uint8 activations
  with a zero point (asymmetric), int8 per-channel weights, int32 biases, and 7-bit weights
  (``reduce_range``) where the CPU lacks VNNI, because its AVX2 kernels saturate int16 sums
  (:mod:`accel_ai_ros.backends.onnxruntime.int8_target`).

The model records its target in its metadata, so the runner warns when it runs elsewhere.
Ranges come from ONNX Runtime's calibrators (MinMax, Entropy, Percentile) run over frames
preprocessed as the node does, or from a :class:`~accel_ai_ros_tools.variants.calibration.
CalibrationCache` entry. Either way ONNX Runtime's ``QDQQuantizer`` is given the ranges, as
``quantize_static`` gives it the calibrator's: only newer ONNX Runtime releases let
``quantize_static`` read precomputed ranges (``calibration_cache_path``), not 1.23, the newest
for Python 3.10. The ranges are stored as the JSON that newer releases' ``save_tensors_data``
writes.
"""

import contextlib
import io
import logging
from pathlib import Path
import tempfile
from typing import Any
from typing import Dict
from typing import Optional
from typing import Sequence
from typing import Tuple
import warnings

import numpy as np
import onnx

from accel_ai_ros.backends.onnxruntime.int8_target import cpu_int8_support
from accel_ai_ros.backends.onnxruntime.int8_target import INT8_TARGET_KEY
from accel_ai_ros.backends.onnxruntime.int8_target import INT8_TARGETS
from accel_ai_ros.backends.onnxruntime.int8_target import REDUCE_RANGE_KEY
from accel_ai_ros.errors import BackendUnavailableError
from accel_ai_ros.errors import collapse_whitespace
from accel_ai_ros.preprocess import PreprocessSpec
from accel_ai_ros_tools.variants import VariantError
from accel_ai_ros_tools.variants.calibration import cache_key
from accel_ai_ros_tools.variants.calibration import CalibrationCache
from accel_ai_ros_tools.variants.calibration import CalibrationReader
from accel_ai_ros_tools.variants.calibration import model_hash
from accel_ai_ros_tools.variants.calibration import preprocessing_dict
from accel_ai_ros_tools.variants.onnx_fixes import DEFAULT_OPSET
from accel_ai_ros_tools.variants.onnx_fixes import prepare_model
from accel_ai_ros_tools.variants.onnx_fixes import run_check
from accel_ai_ros_tools.variants.onnx_fixes import with_min_ir_version

CALIBRATION_METHODS: Tuple[str, ...] = ('minmax', 'entropy', 'percentile')
DEFAULT_PERCENTILE = 99.999
#: Operators whose inputs are quantized: the compute-heavy ones, as TensorRT's explicit
#: quantization wants; outputs of Softmax, box decoding and the like stay float.
DEFAULT_INT8_OP_TYPES: Tuple[str, ...] = ('Conv', 'ConvTranspose', 'Gemm', 'MatMul')
logger = logging.getLogger('accel_ai_ros')
_METHOD_NAMES = {'minmax': 'MinMax', 'entropy': 'Entropy', 'percentile': 'Percentile'}


def _quantization() -> Any:
    try:
        from onnxruntime import quantization
    except ImportError as exc:
        raise BackendUnavailableError(f'onnxruntime is not importable ({exc}); install it '
                                      f'with: pip install onnxruntime') from exc
    return quantization


def _quantization_version() -> str:
    import onnxruntime
    return str(onnxruntime.__version__)


def _calibration_options(method: str, percentile: float, symmetric: bool) -> Dict[str, Any]:
    if method not in CALIBRATION_METHODS:
        raise VariantError(f'calibration method {method!r} is unknown; use one of '
                           f'{", ".join(CALIBRATION_METHODS)}')
    options: Dict[str, Any] = {'symmetric': symmetric}
    if method == 'entropy':
        # ONNX Runtime's default (128 bins into 128) leaves one candidate threshold, the
        # full range, i.e. MinMax. TensorRT uses 2048 bins, but ONNX Runtime's pure-Python
        # search then takes minutes (measured: 3 min for the face detector); 512 is a
        # compromise of 192 candidates.
        options.update(num_bins=512, num_quantized_bins=128)
    elif method == 'percentile':
        if not 50.0 < percentile <= 100.0:
            raise VariantError(f'the percentile must be in (50, 100], got {percentile}')
        options['percentile'] = float(percentile)
    return options


def _encode(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return {'data': value.tolist(), 'dtype': str(value.dtype), 'CLS': 'numpy.array'}
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


def ranges_to_json(ranges: Any) -> Dict[str, Any]:
    """
    Return ONNX Runtime's ``TensorsData`` as a JSON-ready dict.

    The layout is that of ``onnxruntime.quantization.calibrate.save_tensors_data`` (newer
    ONNX Runtime releases have it), so caches written by either are read by
    :func:`ranges_from_json`.
    """
    data = {name: {key: _encode(value) for key, value in tensor.to_dict().items()}
            for name, tensor in ranges.items()}
    method = {'CLS': 'CalibrationMethod', 'value': str(ranges.calibration_method)}
    return {'CLS': 'TensorsData', 'data': data, 'calibration_method': method,
            'smooth_quant': False}


def ranges_from_json(ranges: Dict[str, Any]) -> Any:
    """Return the ``TensorsData`` that :func:`ranges_to_json` (or ONNX Runtime) wrote."""
    from onnxruntime.quantization.calibrate import CalibrationMethod
    from onnxruntime.quantization.calibrate import TensorData
    from onnxruntime.quantization.calibrate import TensorsData
    method = ranges['calibration_method']
    if isinstance(method, dict):
        method = method['value']
    tensors = {}
    for name, fields in ranges['data'].items():
        kwargs: Dict[str, Any] = {}
        for key, value in fields.items():
            if key == 'CLS':
                continue
            if isinstance(value, dict) and value.get('CLS') == 'numpy.array':
                value = np.array(value['data'], dtype=np.dtype(value['dtype']))
            elif key in TensorData._floats and isinstance(value, (int, float)):
                value = np.array(value, dtype=np.float32)
            kwargs[key] = value
        tensors[name] = TensorData(**kwargs)
    return TensorsData(CalibrationMethod[str(method).split('.')[-1]], tensors)


def calibrate(model_path: Path, reader: CalibrationReader, method: str,
              options: Dict[str, Any], work_dir: Path) -> Dict[str, Any]:
    """
    Run ONNX Runtime's calibrator over ``reader``; return the ranges as its JSON dict.

    Every float tensor is calibrated (not only those of the operators to quantize), so
    the ranges serve any later choice of operators. ``work_dir`` takes the augmented model.
    """
    q = _quantization()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        try:
            calibrator = q.create_calibrator(
                Path(model_path), None,
                augmented_model_path=str(Path(work_dir) / 'augmented.onnx'),
                calibrate_method=getattr(q.CalibrationMethod, _METHOD_NAMES[method]),
                extra_options=dict(options))
            with contextlib.redirect_stdout(io.StringIO()):  # its progress prints
                calibrator.collect_data(reader)
                ranges = calibrator.compute_data()
        except VariantError:
            raise
        except Exception as exc:  # ONNX Runtime raises its own types here
            message = collapse_whitespace(exc)[:300]
            raise VariantError(f'calibration fails ({message}); check that the frames fit '
                               f'the model input') from None
    numeric = sorted({str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)})
    if numeric:
        # e.g. NumPy's 'invalid value encountered in divide': a tensor constant over every
        # frame has an empty histogram; its range falls back to the values seen.
        logger.warning('calibration: %d numerical warning(s) from the calibrator (%s): a '
                       'tensor was constant or empty over the frames; give more varied '
                       'frames if INT8 accuracy suffers', len(numeric), '; '.join(numeric)[:200])
    return ranges_to_json(ranges)


def _quantize_qdq(source: Path, output: Path, ranges: Any, nodes_to_exclude: Sequence[str],
                  op_types: Optional[Sequence[str]], extra: Dict[str, Any],
                  activations_signed: bool, reduce_range: bool, fmt: str = 'QDQ') -> None:
    """Quantize ``source`` with ``ranges`` as ``quantize_static`` does (QDQ or QOperator)."""
    q = _quantization()
    from onnxruntime.quantization.onnx_quantizer import ONNXQuantizer
    from onnxruntime.quantization.qdq_quantizer import QDQQuantizer
    from onnxruntime.quantization.quant_utils import load_model_with_shape_infer
    from onnxruntime.quantization.registry import QDQRegistry
    from onnxruntime.quantization.registry import QLinearOpsRegistry
    ops = list(op_types) if op_types else sorted(set(QLinearOpsRegistry) | set(QDQRegistry))
    activations = q.QuantType.QInt8 if activations_signed else q.QuantType.QUInt8
    model = load_model_with_shape_infer(Path(source))
    if fmt == 'QOperator':  # QLinearConv, QLinearMatMul...: ONNX Runtime's CPU operators
        quantizer: Any = ONNXQuantizer(
            model, True, reduce_range, q.QuantizationMode.QLinearOps, True, q.QuantType.QInt8,
            activations, ranges, [], list(nodes_to_exclude), ops, dict(extra))
    else:
        quantizer = QDQQuantizer(model, True, reduce_range, q.QuantType.QInt8, activations,
                                 ranges, [], list(nodes_to_exclude), ops, dict(extra))
    quantizer.quantize_model()
    quantizer.model.save_model_to_file(str(output), False)


def resolve_reduce_range(target: str, reduce_range: Optional[bool]) -> bool:
    """Return the reduce_range to use: False for TensorRT, else as given or from this CPU."""
    if target not in INT8_TARGETS:
        raise VariantError(f'INT8 target {target!r} is unknown; use one of '
                           f'{", ".join(INT8_TARGETS)}')
    if target == 'tensorrt':
        return False
    return cpu_int8_support().needs_reduce_range if reduce_range is None else reduce_range


def quantize_int8(model: onnx.ModelProto, spec: PreprocessSpec,
                  reader: Optional[CalibrationReader], method: str = 'minmax',
                  cache: Optional[CalibrationCache] = None,
                  percentile: float = DEFAULT_PERCENTILE,
                  nodes_to_exclude: Sequence[str] = (),
                  op_types: Optional[Sequence[str]] = DEFAULT_INT8_OP_TYPES,
                  target_opset: int = DEFAULT_OPSET,
                  check: bool = True, target: str = 'tensorrt',
                  reduce_range: Optional[bool] = None,
                  quant_format: str = 'QDQ') -> Tuple[onnx.ModelProto, Dict[str, Any]]:
    """
    Return the INT8 QDQ model for ``target`` and the options used (for the manifest).

    The model goes through :func:`~accel_ai_ros_tools.variants.onnx_fixes.prepare_model` with
    its batch fixed to 1. When ``cache`` holds ranges for this model, method and
    preprocessing, they are used and ``reader`` is never called (it may be None); else
    ``reader`` feeds the calibrator and the ranges are stored in ``cache``. ``reduce_range``
    (7-bit weights, the ``cpu`` target only) of None follows this CPU's flags;
    ``quant_format`` 'QOperator' (the ``cpu`` target only) writes ONNX Runtime's QLinear
    operators instead of Q/DQ pairs. With ``check``, ONNX Runtime loads and runs the result
    once.
    """
    _quantization()  # BackendUnavailableError before any work when ONNX Runtime is missing
    reduce = resolve_reduce_range(target, reduce_range)
    if quant_format not in ('QDQ', 'QOperator') or (
            quant_format == 'QOperator' and target != 'cpu'):
        raise VariantError(f'INT8 format {quant_format!r} is not available for the {target} '
                           f'target; use QDQ (TensorRT reads only Q/DQ) or, for cpu, QOperator')
    symmetric = target == 'tensorrt'
    calib_options = _calibration_options(method, percentile, symmetric)
    fixed = prepare_model(model, target_opset=target_opset, fix_batch=True)
    fixed_bytes = fixed.SerializeToString()
    digest = model_hash(fixed_bytes)
    key = cache_key(digest, method, spec, calib_options)
    entry = cache.get(key) if cache is not None else None
    if entry is None and reader is None:
        raise VariantError('INT8 quantization needs calibration frames (--calibration-images, '
                           '--calibration-video, --calibration-bag or --calibration-topic) '
                           'or a calibration cache that holds this model and preprocessing')
    cached = False
    extra = {
        'ActivationSymmetric': symmetric, 'WeightSymmetric': True,
        'CalibTensorRangeSymmetric': symmetric, 'DedicatedQDQPair': symmetric,
        'QuantizeBias': not symmetric,
    }
    with tempfile.TemporaryDirectory(prefix='accel_ai_int8.') as tmp:
        source = Path(tmp) / 'fp32.onnx'
        source.write_bytes(fixed_bytes)
        if entry is None:
            assert reader is not None
            ranges = calibrate(source, reader, method, calib_options, Path(tmp))
            entry = {'model_sha256': digest, 'method': method,
                     'preprocessing': preprocessing_dict(spec), 'options': calib_options,
                     'frames': reader.frames, 'ranges': ranges}
            if cache is not None:
                cache.put(key, entry)
        else:
            cached = True
        output = Path(tmp) / 'int8.onnx'
        logging.disable(logging.WARNING)  # quiet the quantizer's advice
        try:
            _quantize_qdq(source, output, ranges_from_json(entry['ranges']),
                          nodes_to_exclude, op_types, extra, symmetric, reduce, quant_format)
        except Exception as exc:  # the quantizer raises ValueError, RuntimeError, ...
            message = collapse_whitespace(exc)[:300]
            raise VariantError(f'INT8 quantization fails ({message}); exclude the node it '
                               f'names (--int8-exclude-nodes) or check the model') from None
        finally:
            logging.disable(logging.NOTSET)
        quantized = with_min_ir_version(onnx.load(str(output)))
    onnx.helper.set_model_props(quantized, {
        **{p.key: p.value for p in quantized.metadata_props},
        INT8_TARGET_KEY: target, REDUCE_RANGE_KEY: str(reduce).lower()})
    if check:
        run_check(quantized)
    options: Dict[str, Any] = {
        'target': target, 'quantizer': f'onnxruntime {_quantization_version()}',
        'format': quant_format,
        'activations': 'int8 symmetric' if symmetric else 'uint8 asymmetric',
        'weights': 'int8 symmetric, 7-bit (reduce_range)' if reduce else 'int8 symmetric',
        'reduce_range': reduce, 'per_channel': True, 'calibration_method': method,
        'calibration_frames': int(entry['frames']), 'calibration_cached': cached,
        'op_types_quantized': sorted(op_types) if op_types else 'all',
        'dedicated_qdq_pair': symmetric,
        'quantize_bias': not symmetric, 'nodes_excluded': sorted(nodes_to_exclude),
    }
    if target == 'cpu':
        options['made_on_cpu'] = cpu_int8_support().describe()
    if method == 'percentile':
        options['percentile'] = float(percentile)
    return quantized, options
