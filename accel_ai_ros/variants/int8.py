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

"""Explicit INT8 quantization: QuantizeLinear / DequantizeLinear (QDQ) nodes.

The form TensorRT's explicit quantization consumes (its only INT8 path from TensorRT 11 on)
and ONNX Runtime runs as well: ``QuantFormat.QDQ``, signed int8 with zero point 0 for
activations and weights (symmetric), per-channel weight scales (``axis`` on the weight's
DequantizeLinear, opset 13+), a dedicated Q/DQ pair per consumer (TensorRT cannot share one,
as ONNX Runtime's quantizer notes) and float biases (TensorRT has no int32 DequantizeLinear).

Ranges come from ONNX Runtime's calibrators (MinMax, Entropy, Percentile) run over frames
preprocessed as the node does, or from a :class:`~accel_ai_ros.variants.calibration.
CalibrationCache` entry, which ``quantize_static`` reads through its
``calibration_cache_path``.
"""

import contextlib
import io
import json
import logging
from pathlib import Path
import tempfile
from typing import Any
from typing import Dict
from typing import Optional
from typing import Sequence
from typing import Tuple

import onnx

from accel_ai_ros.errors import BackendUnavailableError
from accel_ai_ros.preprocess import PreprocessSpec
from accel_ai_ros.variants import VariantError
from accel_ai_ros.variants.calibration import cache_key
from accel_ai_ros.variants.calibration import CalibrationCache
from accel_ai_ros.variants.calibration import CalibrationReader
from accel_ai_ros.variants.calibration import model_hash
from accel_ai_ros.variants.calibration import preprocessing_dict
from accel_ai_ros.variants.onnx_fixes import DEFAULT_OPSET
from accel_ai_ros.variants.onnx_fixes import prepare_model
from accel_ai_ros.variants.onnx_fixes import run_check

CALIBRATION_METHODS: Tuple[str, ...] = ('minmax', 'entropy', 'percentile')
DEFAULT_PERCENTILE = 99.999
#: Operators whose inputs are quantized: the compute-heavy ones, as TensorRT's explicit
#: quantization wants; outputs of Softmax, box decoding and the like stay float.
DEFAULT_INT8_OP_TYPES: Tuple[str, ...] = ('Conv', 'ConvTranspose', 'Gemm', 'MatMul')
_METHOD_NAMES = {'minmax': 'MinMax', 'entropy': 'Entropy', 'percentile': 'Percentile'}


def _quantization() -> Any:
    try:
        from onnxruntime import quantization
    except ImportError as exc:
        raise BackendUnavailableError(f'onnxruntime is not importable ({exc}); install it '
                                      f'with: pip install onnxruntime') from exc
    return quantization


def _calibration_options(method: str, percentile: float) -> Dict[str, Any]:
    if method not in CALIBRATION_METHODS:
        raise VariantError(f'calibration method {method!r} is unknown; use one of '
                           f'{", ".join(CALIBRATION_METHODS)}')
    options: Dict[str, Any] = {'symmetric': True}
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


def calibrate(model_path: Path, reader: CalibrationReader, method: str,
              options: Dict[str, Any], work_dir: Path) -> Dict[str, Any]:
    """
    Run ONNX Runtime's calibrator over ``reader``; return the ranges as its JSON dict.

    Every float tensor is calibrated (not only those of the operators to quantize), so
    the ranges serve any later choice of operators. ``work_dir`` takes the augmented model.
    """
    q = _quantization()
    from onnxruntime.quantization.calibrate import save_tensors_data
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
        message = ' '.join(str(exc).split())[:300]
        raise VariantError(f'calibration fails ({message}); check that the frames fit the '
                           f'model input') from None
    path = Path(work_dir) / 'computed_ranges.json'
    save_tensors_data(ranges, path)
    return dict(json.loads(path.read_text(encoding='utf-8')))


def quantize_int8(model: onnx.ModelProto, spec: PreprocessSpec,
                  reader: Optional[CalibrationReader], method: str = 'minmax',
                  cache: Optional[CalibrationCache] = None,
                  percentile: float = DEFAULT_PERCENTILE,
                  nodes_to_exclude: Sequence[str] = (),
                  op_types: Optional[Sequence[str]] = DEFAULT_INT8_OP_TYPES,
                  target_opset: int = DEFAULT_OPSET,
                  check: bool = True) -> Tuple[onnx.ModelProto, Dict[str, Any]]:
    """
    Return the INT8 QDQ model and the options used (for the manifest).

    The model goes through :func:`~accel_ai_ros.variants.onnx_fixes.prepare_model` with its
    batch fixed to 1. When ``cache`` holds ranges for this model, method and preprocessing,
    they are used and ``reader`` is never called (it may be None); else ``reader`` feeds
    the calibrator and the ranges are stored in ``cache``. With ``check``, ONNX Runtime
    loads and runs the result once.
    """
    q = _quantization()
    calib_options = _calibration_options(method, percentile)
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
        'ActivationSymmetric': True, 'WeightSymmetric': True,
        'CalibTensorRangeSymmetric': True, 'DedicatedQDQPair': True, 'QuantizeBias': False,
    }
    with tempfile.TemporaryDirectory(prefix='accel_ai_int8.') as tmp:
        source = Path(tmp) / 'fp32.onnx'
        source.write_bytes(fixed_bytes)
        ranges_path = Path(tmp) / 'ranges.json'
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
        ranges_path.write_text(json.dumps(entry['ranges']), encoding='utf-8')
        output = Path(tmp) / 'int8.onnx'
        logging.disable(logging.WARNING)  # quiet the 'consider pre-processing' advice
        try:
            q.quantize_static(
                str(source), str(output), None,
                quant_format=q.QuantFormat.QDQ, activation_type=q.QuantType.QInt8,
                weight_type=q.QuantType.QInt8, per_channel=True, reduce_range=False,
                calibrate_method=getattr(q.CalibrationMethod, _METHOD_NAMES[method]),
                nodes_to_exclude=list(nodes_to_exclude), extra_options=extra,
                op_types_to_quantize=list(op_types) if op_types else None,
                calibration_cache_path=str(ranges_path))
        except Exception as exc:  # the quantizer raises ValueError, RuntimeError, ...
            message = ' '.join(str(exc).split())[:300]
            raise VariantError(f'INT8 quantization fails ({message}); exclude the node it '
                               f'names (--int8-exclude-nodes) or check the model') from None
        finally:
            logging.disable(logging.NOTSET)
        quantized = onnx.load(str(output))
    if check:
        run_check(quantized)
    options: Dict[str, Any] = {
        'format': 'QDQ', 'activations': 'int8 symmetric', 'weights': 'int8 symmetric',
        'per_channel': True, 'calibration_method': method,
        'calibration_frames': int(entry['frames']), 'calibration_cached': cached,
        'op_types_quantized': sorted(op_types) if op_types else 'all',
        'dedicated_qdq_pair': True,
        'quantize_bias': False, 'nodes_excluded': sorted(nodes_to_exclude),
    }
    if method == 'percentile':
        options['percentile'] = float(percentile)
    return quantized, options
