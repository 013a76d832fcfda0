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

"""Precision variants of one FP32 ONNX model: fixes, FP16, INT8 (QDQ) and their manifest.

The modules here import ONNX, ONNX Runtime and onnxconverter-common themselves, so importing
this package stays cheap:

- :mod:`accel_ai_ros_tools.variants.onnx_fixes`: make real-world exports convertible.
- :mod:`accel_ai_ros_tools.variants.fp16`: an FP16 model with FP32 inputs and outputs.
- :mod:`accel_ai_ros_tools.variants.calibration`: calibration frames, preprocessed as the node
  does, and the reusable calibration cache.
- :mod:`accel_ai_ros_tools.variants.int8`: explicit INT8 quantization (QuantizeLinear and
  DequantizeLinear nodes) for TensorRT and ONNX Runtime.
- :mod:`accel_ai_ros_tools.variants.manifest`: ``variants.json``, read by the trade-off benchmark.
"""

from accel_ai_ros.errors import AccelAiError


class VariantError(AccelAiError):
    """A model cannot be fixed, converted, calibrated or quantized; the message says why."""
