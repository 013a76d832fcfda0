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

"""The TensorRT INT8 target through NVIDIA's Model Optimizer, where it is installed.

``modelopt.onnx.quantization.quantize`` places Q/DQ the way TensorRT fuses them (symmetric
int8, per-channel weights) and is kept by NVIDIA. It is optional: nvidia-modelopt 0.47 needs
torch >= 2.8 and pins onnxruntime-gpu ~= 1.24 and onnx ~= 1.21, so it usually lives in its own
environment (a GPU workstation), not beside this package's ONNX Runtime. Without it,
:func:`~accel_ai_ros_tools.variants.int8.quantize_int8` (ONNX Runtime's quantizer) makes the
same target. Calibration runs on ONNX Runtime's CPU provider (``calibration_eps=['cpu']``);
layers it leaves unquantized stay FP32 (``high_precision_dtype='fp32'``), not FP16.
"""

from pathlib import Path
import tempfile
from typing import Any
from typing import Dict
from typing import Optional
from typing import Sequence
from typing import Tuple

import numpy as np
import onnx

from accel_ai_ros.backends.onnxruntime.int8_target import INT8_TARGET_KEY
from accel_ai_ros.backends.onnxruntime.int8_target import REDUCE_RANGE_KEY
from accel_ai_ros.errors import collapse_whitespace
from accel_ai_ros_tools.variants import VariantError
from accel_ai_ros_tools.variants.calibration import CalibrationReader
from accel_ai_ros_tools.variants.onnx_fixes import DEFAULT_OPSET
from accel_ai_ros_tools.variants.onnx_fixes import prepare_model
from accel_ai_ros_tools.variants.onnx_fixes import run_check

#: Our calibration methods and Model Optimizer's names for them (it has no percentile).
METHODS = {'minmax': 'max', 'entropy': 'entropy'}
INSTALL_HINT = ('pip install "nvidia-modelopt[onnx]" (it needs torch >= 2.8 and its own '
                'onnxruntime-gpu: use a separate environment), or use --int8-quantizer '
                'onnxruntime')


def modelopt_error() -> Optional[str]:
    """Return why Model Optimizer's ONNX quantization cannot be imported, or None."""
    try:
        from modelopt.onnx.quantization import quantize  # noqa: F401
    except Exception as exc:  # ImportError, or its own dependency errors at import time
        return collapse_whitespace(exc)[:200]
    return None


def quantize_int8_modelopt(model: onnx.ModelProto, reader: CalibrationReader,
                           method: str = 'minmax', nodes_to_exclude: Sequence[str] = (),
                           op_types: Optional[Sequence[str]] = None,
                           target_opset: int = DEFAULT_OPSET,
                           check: bool = True) -> Tuple[onnx.ModelProto, Dict[str, Any]]:
    """Return Model Optimizer's INT8 model for TensorRT and the options (for the manifest)."""
    error = modelopt_error()
    if error is not None:
        raise VariantError(f'NVIDIA Model Optimizer is not importable ({error}); '
                           f'{INSTALL_HINT}')
    if method not in METHODS:
        raise VariantError(f'Model Optimizer calibrates INT8 with {", ".join(METHODS)}, not '
                           f'{method}; give --calibration-method minmax or entropy')
    from modelopt.onnx.quantization import quantize
    tensors = []
    while True:
        feed = reader.get_next()
        if feed is None:
            break
        tensors.append(feed[reader.input_name])
    fixed = prepare_model(model, target_opset=target_opset, fix_batch=True)
    with tempfile.TemporaryDirectory(prefix='accel_ai_modelopt.') as tmp:
        source, output = Path(tmp) / 'fp32.onnx', Path(tmp) / 'int8.onnx'
        onnx.save(fixed, str(source))
        try:
            quantize(str(source), quantize_mode='int8',
                     calibration_data={reader.input_name: np.concatenate(tensors)},
                     calibration_method=METHODS[method], calibration_eps=['cpu'],
                     high_precision_dtype='fp32', output_path=str(output),
                     nodes_to_exclude=list(nodes_to_exclude) or None,
                     op_types_to_quantize=list(op_types) if op_types else None,
                     log_level='WARNING')
        except Exception as exc:  # its own and ONNX Runtime's error types
            message = collapse_whitespace(exc)[:300]
            raise VariantError(f'Model Optimizer INT8 quantization fails ({message}); try '
                               f'--int8-quantizer onnxruntime') from None
        quantized = onnx.load(str(output))
    onnx.helper.set_model_props(quantized, {
        **{p.key: p.value for p in quantized.metadata_props},
        INT8_TARGET_KEY: 'tensorrt', REDUCE_RANGE_KEY: 'false'})
    if check:
        run_check(quantized)
    import modelopt
    options: Dict[str, Any] = {
        'target': 'tensorrt', 'quantizer': f'modelopt {modelopt.__version__}', 'format': 'QDQ',
        'activations': 'int8 symmetric', 'weights': 'int8 symmetric', 'reduce_range': False,
        'per_channel': True, 'calibration_method': method, 'calibration_frames': len(tensors),
        'calibration_cached': False, 'nodes_excluded': sorted(nodes_to_exclude),
        'op_types_quantized': sorted(op_types) if op_types else 'modelopt default',
    }
    return quantized, options
