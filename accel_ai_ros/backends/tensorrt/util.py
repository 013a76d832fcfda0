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

"""TensorRT and CUDA utilities shared by the runner, the builder and the engine cache.

The pure helpers (dtype and shape conversion, profile checks, the inspector's layer
precisions, error texts) are tested without TensorRT; the adapters below them import TensorRT
lazily, and CUDA goes through the package's one wrapper, :mod:`accel_ai_ros.gpu.cuda`.
There is one TensorRT logger per process (:class:`TrtLog`), as TensorRT wants.
"""

import json
import logging
import os
import re
import threading
from types import ModuleType
from typing import Any
from typing import Dict
from typing import List
from typing import Optional
from typing import Sequence
from typing import Tuple
from typing import Union

import numpy as np

from accel_ai_ros.backends.base import Dim
from accel_ai_ros.backends.registry import INSTALL_HINTS
from accel_ai_ros.backends.registry import require_backend
from accel_ai_ros.backends.tensorrt.manifest import EngineManifest
from accel_ai_ros.backends.tensorrt.manifest import platform_mismatches
from accel_ai_ros.backends.tensorrt.manifest import PlatformInfo
from accel_ai_ros.errors import BackendUnavailableError
from accel_ai_ros.errors import collapse_whitespace
from accel_ai_ros.errors import EngineError
from accel_ai_ros.gpu import cuda

logger = logging.getLogger('accel_ai_ros')


#: TensorRT DataType names and the numpy dtypes this runner exchanges for them.
TRT_DTYPES: Dict[str, np.dtype] = {
    'FLOAT': np.dtype(np.float32),
    'HALF': np.dtype(np.float16),
    'INT8': np.dtype(np.int8),
    'UINT8': np.dtype(np.uint8),
    'INT32': np.dtype(np.int32),
    'INT64': np.dtype(np.int64),
    'BOOL': np.dtype(np.bool_),
}

# Words of an inspector 'Format/Datatype' or 'DataType' text -> precision name.
_PRECISION_WORDS = {
    'fp32': 'fp32', 'float': 'fp32', 'fp16': 'fp16', 'half': 'fp16', 'bf16': 'bf16',
    'bfloat16': 'bf16', 'int8': 'int8', 'fp8': 'fp8', 'e4m3': 'fp8', 'int4': 'int4',
    'fp4': 'fp4', 'int32': 'int32', 'int64': 'int64', 'bool': 'bool', 'uint8': 'uint8',
}


# -- pure helpers (tested without TensorRT) --------------------------------------------------


def numpy_dtype(trt_type_name: str, tensor: str = '') -> np.dtype:
    """Map a TensorRT DataType name ('FLOAT', 'HALF', ...) to numpy; EngineError if none."""
    dtype = TRT_DTYPES.get(trt_type_name.upper())
    if dtype is None:
        raise EngineError(
            f'engine tensor {tensor!r} has TensorRT type {trt_type_name}, which this package '
            f'cannot exchange; supported: {", ".join(TRT_DTYPES)}. Re-export the model with '
            f'FP32/FP16 inputs and outputs (keep_io_types) and rebuild the engine')
    return dtype


def dims_list(dims: Any) -> List[int]:
    """Return TensorRT ``Dims`` (or any sequence) as a list of ints."""
    return [int(dims[i]) for i in range(len(dims))]


def dims_to_shape(dims: Any) -> Tuple[Dim, ...]:
    """Turn TensorRT dimensions into a shape whose dynamic (-1) entries are None."""
    return tuple(d if d >= 0 else None for d in dims_list(dims))


def profile_problem(name: str, shape: Sequence[int], minimum: Sequence[int],
                    maximum: Sequence[int]) -> Optional[str]:
    """Return why ``shape`` lies outside the optimization profile [min, max], or None."""
    shape, minimum, maximum = tuple(shape), tuple(minimum), tuple(maximum)
    if len(shape) == len(minimum) == len(maximum) and all(
            lo <= got <= hi for got, lo, hi in zip(shape, minimum, maximum)):
        return None
    return (f"input {name!r} has shape {shape}, outside the engine's optimization profile "
            f'(min {minimum}, max {maximum}); resize the input into that range or rebuild the '
            f'engine with a wider profile (build_engine --min-shape/--max-shape)')


#: Per-tensor inspector fields that name a type, in the order they are read (lower case):
#: TensorRT 11 writes ``Datatype`` and ``Format`` apart, TensorRT 10 one ``Format/Datatype``.
_TYPE_FIELDS = ('datatype', 'format/datatype', 'format')


def tensor_precision(desc: Any) -> Optional[str]:
    """Return the precision named by one inspector tensor description, or None.

    Field names are matched without regard to case, so TensorRT 10's ``Format/Datatype``
    ('Channel major FP16 format ...', 'Half') and TensorRT 11's ``Datatype`` ('Half') and
    ``Format`` ('Row major linear FP32 format (kLINEAR)') are all read.
    """
    if not isinstance(desc, dict):
        return None
    fields = {str(key).lower(): value for key, value in desc.items()}
    for field in _TYPE_FIELDS:
        words = re.findall(r'[a-z0-9]+', str(fields.get(field, '')).lower())
        found = [_PRECISION_WORDS[w] for w in words if w in _PRECISION_WORDS]
        if found:
            return found[0]
    return None


def layer_precision(layer: Any) -> str:
    """Return the precision one inspector layer runs in, read from its tensor types.

    A layer's precision is the type of its first input with a known type (its first output
    when it has none). 'unknown' when the engine lists layer names only (no
    ProfilingVerbosity.DETAILED), 'unrecognised' when a detailed layer names no type this
    package can read.
    """
    if not isinstance(layer, dict):
        return 'unknown'
    for key in ('Inputs', 'Outputs'):
        for desc in layer.get(key) or []:
            found = tensor_precision(desc)
            if found:
                return found
    return 'unrecognised'


def summarize_layer_precisions(engine_json: str) -> Dict[str, int]:
    """Count the layers per precision in ``IEngineInspector`` JSON output.

    ``engine_json`` is what ``get_engine_information(LayerInformationFormat.JSON)`` returns:
    ``{"Layers": [...], ...}``. Layer entries are objects under ProfilingVerbosity.DETAILED and
    plain names otherwise (counted as 'unknown'). Raises ValueError for text that is not such
    JSON.
    """
    data = json.loads(engine_json)
    layers = data.get('Layers') if isinstance(data, dict) else None
    if not isinstance(layers, list):
        raise ValueError('engine information has no "Layers" list')
    counts: Dict[str, int] = {}
    for layer in layers:
        precision = layer_precision(layer)
        counts[precision] = counts.get(precision, 0) + 1
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def format_precision_summary(counts: Dict[str, int]) -> str:
    """Return e.g. '41 layers: fp16 38, fp32 3', or why precisions are unknown."""
    total = sum(counts.values())
    if not total:
        return 'no layers reported'
    if set(counts) == {'unknown'}:
        return (f'{total} layers, precisions unknown: the engine was built without '
                f'ProfilingVerbosity.DETAILED; rebuild it with build_engine to see them')
    if set(counts) <= {'unknown', 'unrecognised'}:
        return (f'{total} layers, precisions unrecognised: this TensorRT writes layer types '
                f'in a layout this package does not read; please report it with the output '
                f'of IEngineInspector')
    return f'{total} layers: ' + ', '.join(f'{name} {count}' for name, count in counts.items())


def precision_warning(requested: str, counts: Dict[str, int]) -> Optional[str]:
    """Return a warning when an engine asked for ``requested`` runs no layer in it."""
    known = {k: v for k, v in counts.items() if k not in ('unknown', 'unrecognised')}
    if not known or requested not in ('fp16', 'int8') or known.get(requested, 0):
        return None
    return (f'the engine was built as {requested} but runs no {requested} layer '
            f'({format_precision_summary(counts)}); under strong typing the precision comes '
            f'from the ONNX model: make an {requested} model with make_variants and rebuild')


def deserialize_failure_message(
    path: Union[str, 'os.PathLike[str]'], size: int, here: Optional[PlatformInfo],
    manifest: Optional[EngineManifest], trt_errors: Sequence[str], allow_plugins: bool,
) -> str:
    """Return the one-line EngineError text for an engine TensorRT will not deserialize."""
    parts = [f'TensorRT cannot deserialize engine {str(path)!r} ({size} bytes): it is '
             f'truncated or corrupt (re-copy it), or was built for another TensorRT version '
             f'or GPU']
    if here is not None:
        parts.append(f'this process has {here.describe()}')
    if manifest is None:
        parts.append('no manifest beside it says what it was built with')
    else:
        text = f'its manifest says: {manifest.describe()}'
        if here is not None:
            mismatches = platform_mismatches(manifest.platform, here)
            if mismatches:
                text += ' - built for ' + ', '.join(mismatches)
        parts.append(text)
    parts.append('rebuild it for this machine with build_engine, or configure its ONNX '
                 'source so that the node rebuilds it')
    errors = ' '.join(trt_errors)
    if not allow_plugins and re.search(r'host code|plugin|lean', errors, re.IGNORECASE):
        parts.append('if it embeds plugin or lean-runtime host code and you trust it, set '
                     'allow_plugins')
    text = '; '.join(parts)
    if trt_errors:
        text += f' [TensorRT: {"; ".join(trt_errors[-3:])}]'
    return collapse_whitespace(text)


def io_tensor_problem(name: str, location: str, shape_inference_io: bool) -> Optional[str]:
    """Return why an engine IO tensor cannot be served by this runner, or None.

    ``location`` is the name of ``engine.get_tensor_location(name)`` ('DEVICE' or 'HOST').
    The runner hands every IO tensor a device buffer; a host-located tensor or a shape tensor
    (``is_shape_inference_io``) would need host memory holding shape values instead.
    """
    if shape_inference_io:
        return (f'engine tensor {name!r} is a shape tensor (is_shape_inference_io): its '
                f'values set the shapes of other tensors, which this runner does not support; '
                f'export the model with static shapes or use the optimization profile')
    location = str(location).upper().rsplit('.', 1)[-1]
    if location != 'DEVICE':
        return (f'engine tensor {name!r} lives in host memory (TensorLocation {location}), '
                f'which this runner does not support; rebuild the engine so that its inputs '
                f'and outputs are device tensors')
    return None


class EngineDeserializeError(EngineError):
    """TensorRT refused the engine file itself: corrupt, or built for another platform.

    Only this failure means that rebuilding from the ONNX source can help; an out-of-memory
    error creating an execution context does not.
    """


class RecentErrors:
    """The last ``limit`` error lines, appended and drained from any thread under a lock."""

    def __init__(self, limit: int = 8) -> None:
        self.limit = int(limit)
        self._lock = threading.Lock()
        self._lines: List[str] = []

    def add(self, line: str) -> None:
        """Append one line, dropping the oldest beyond the limit."""
        with self._lock:
            self._lines.append(line)
            del self._lines[:-self.limit]

    def take(self) -> List[str]:
        """Return and forget the lines added since the last call."""
        with self._lock:
            lines, self._lines = self._lines, []
        return lines


# -- TensorRT and CUDA adapters --------------------------------------------------------------

def import_tensorrt() -> ModuleType:
    """Import TensorRT, refusing a module that is only the ``tensorrt-stubs`` type stubs."""
    trt = require_backend('tensorrt')
    if not hasattr(trt, 'Runtime'):
        raise BackendUnavailableError(
            f'the tensorrt module found ({list(getattr(trt, "__path__", []))}) is only type '
            f'stubs (tensorrt-stubs), not TensorRT; {INSTALL_HINTS["tensorrt"]}')
    return trt


def device_platform(device: int = 0) -> PlatformInfo:
    """Return this process's TensorRT version and the name/compute capability of ``device``."""
    trt = import_tensorrt()
    major, minor = cuda.compute_capability(device)
    return PlatformInfo(str(trt.__version__), cuda.device_name(device).strip(),
                        f'{major}.{minor}')


class TrtLog:
    """One TensorRT logger per process (TensorRT wants one); keeps the recent errors."""

    _instance: Any = None
    _lock = threading.Lock()
    #: Errors TensorRT logged (from any thread, in its callbacks), drained by take_errors.
    recent = RecentErrors(8)

    @classmethod
    def get(cls) -> Any:
        """Return the process-wide ``trt.ILogger`` that forwards to the package logger."""
        with cls._lock:
            if cls._instance is None:
                import tensorrt as trt

                class _Logger(trt.ILogger):  # type: ignore[misc]
                    def __init__(self) -> None:
                        trt.ILogger.__init__(self)

                    def log(self, severity: Any, msg: str) -> None:
                        if severity in (trt.ILogger.Severity.INTERNAL_ERROR,
                                        trt.ILogger.Severity.ERROR):
                            TrtLog.recent.add(collapse_whitespace(msg))
                            logger.debug('TensorRT error: %s', msg)
                        elif severity == trt.ILogger.Severity.WARNING:
                            logger.debug('TensorRT warning: %s', msg)

                cls._instance = _Logger()
                trt.init_libnvinfer_plugins(cls._instance, '')
            return cls._instance

    @classmethod
    def take_errors(cls) -> List[str]:
        """Return and forget the errors logged since the last call."""
        return cls.recent.take()
