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

"""The ONNX Runtime backend: one InferenceSession behind the :class:`Runner` contract.

ONNX Runtime is imported when the runner activates, never when this module is imported.
Models written by older exporters list every initializer as a graph input as well; ONNX Runtime
then prints one warning per initializer. This runner silences those, reports them as one line
on the ``accel_ai_ros`` logger, and describes only the model's true inputs.
"""

import logging
import os
from pathlib import Path
from typing import Any
from typing import Dict
from typing import List
from typing import Optional
from typing import Sequence
from typing import Tuple
from typing import Union

import numpy as np

from accel_ai_ros.backends.base import Dim
from accel_ai_ros.backends.base import Runner
from accel_ai_ros.backends.base import TensorInfo
from accel_ai_ros.backends.onnxruntime.int8_target import cpu_int8_support
from accel_ai_ros.backends.onnxruntime.int8_target import INT8_TARGET_KEY
from accel_ai_ros.backends.onnxruntime.int8_target import target_warning
from accel_ai_ros.backends.registry import require_backend
from accel_ai_ros.errors import BackendUnavailableError
from accel_ai_ros.errors import EngineError
from accel_ai_ros.errors import error_text
from accel_ai_ros.errors import InferenceError
from accel_ai_ros.errors import ParameterError
from accel_ai_ros.fileio import check_model_file

logger = logging.getLogger('accel_ai_ros')

#: ONNX Runtime's type strings and the numpy dtypes this runner exchanges for them.
ORT_DTYPES: Dict[str, np.dtype] = {
    'tensor(float)': np.dtype(np.float32),
    'tensor(float16)': np.dtype(np.float16),
    'tensor(double)': np.dtype(np.float64),
    'tensor(uint8)': np.dtype(np.uint8),
    'tensor(int8)': np.dtype(np.int8),
    'tensor(uint16)': np.dtype(np.uint16),
    'tensor(int16)': np.dtype(np.int16),
    'tensor(uint32)': np.dtype(np.uint32),
    'tensor(int32)': np.dtype(np.int32),
    'tensor(uint64)': np.dtype(np.uint64),
    'tensor(int64)': np.dtype(np.int64),
    'tensor(bool)': np.dtype(np.bool_),
}

#: What to install for execution providers that the installed ONNX Runtime lacks.
PROVIDER_HINTS: Dict[str, str] = {
    'CUDAExecutionProvider': ('pip uninstall onnxruntime && pip install onnxruntime-gpu '
                              '(matching your CUDA and cuDNN versions)'),
    'TensorrtExecutionProvider': ('pip install onnxruntime-gpu and the TensorRT libraries, '
                                  'or use backend tensorrt'),
    'OpenVINOExecutionProvider': 'pip install onnxruntime-openvino',
    'DmlExecutionProvider': 'pip install onnxruntime-directml (Windows)',
    'CoreMLExecutionProvider': 'use the macOS onnxruntime wheel',
}

#: Log severity for ONNX Runtime sessions: 3 = errors only.
_ORT_LOG_ERRORS_ONLY = 3


def _dim(value: Any) -> Dim:
    """Turn an ONNX Runtime dimension into an int, a symbolic name or None."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value if value >= 0 else None
    if isinstance(value, str) and value:
        return value
    return None


class OnnxRuntimeRunner(Runner):
    """Run an ONNX model with ONNX Runtime.

    ``providers`` are ONNX Runtime execution provider names in order of preference;
    ``intra_op_threads`` of 0 lets ONNX Runtime choose.
    """

    backend_name = 'onnxruntime'

    def __init__(
        self, path: Union[str, 'os.PathLike[str]'],
        providers: Sequence[str] = ('CPUExecutionProvider',),
        intra_op_threads: int = 0,
    ) -> None:
        """Remember the model file and session settings; nothing is loaded yet."""
        self.path = Path(path)
        super().__init__(self.path.name)
        if isinstance(providers, str):
            providers = (providers,)
        if not providers:
            raise ParameterError(
                'providers is empty; give at least one ONNX Runtime execution provider, '
                "e.g. ['CPUExecutionProvider']")
        if not isinstance(intra_op_threads, int) or intra_op_threads < 0:
            raise ParameterError(
                f'intra_op_threads is {intra_op_threads!r}; use 0 (ONNX Runtime decides) or a '
                f'positive thread count')
        self.providers: Tuple[str, ...] = tuple(providers)
        self.intra_op_threads = intra_op_threads
        self._session: Optional[Any] = None
        self._inputs: List[TensorInfo] = []
        self._outputs: List[TensorInfo] = []
        self._output_names: List[str] = []
        self.initializers_as_inputs = 0
        #: The INT8 target the model records ('tensorrt', 'cpu'; '' for none) and why it
        #: runs off target here (None when it does not).
        self.int8_target = ''
        self.int8_warning: Optional[str] = None

    # -- lifecycle ---------------------------------------------------------------------
    def _check_file(self) -> int:
        """Raise EngineError when the model file is absent or empty; return its size."""
        return check_model_file(self.path, 'ONNX model', 'the .onnx file itself')

    def _check_providers(self, ort: Any) -> None:
        """Raise BackendUnavailableError when a requested provider is not installed."""
        available = list(ort.get_available_providers())
        missing = [p for p in self.providers if p not in available]
        if missing:
            hints = '; '.join(f'for {p}: {PROVIDER_HINTS[p]}' for p in missing
                              if p in PROVIDER_HINTS)
            raise BackendUnavailableError(
                f'ONNX Runtime {ort.__version__} lacks execution provider(s) {missing}; '
                f'available: {available}. '
                + (f'{hints}; ' if hints else '')
                + 'or set providers to a subset of the available ones')

    def _activate(self) -> None:
        """Create the InferenceSession and read the model's inputs and outputs."""
        size = self._check_file()
        ort = require_backend('onnxruntime')
        self._check_providers(ort)
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = _ORT_LOG_ERRORS_ONLY
        if self.intra_op_threads:
            options.intra_op_num_threads = self.intra_op_threads
        try:
            session = ort.InferenceSession(
                str(self.path), sess_options=options, providers=list(self.providers))
        except Exception as error:  # noqa: B902 - ORT raises its own pybind exception types
            raise EngineError(_load_failure(str(self.path), size, error)) from None
        loaded = list(session.get_providers())
        dropped = [p for p in self.providers if p not in loaded]
        if dropped:
            raise BackendUnavailableError(
                f'ONNX Runtime could not start execution provider(s) {dropped} for '
                f'{str(self.path)!r} (it fell back to {loaded}); check that the CUDA/cuDNN/'
                f'TensorRT libraries it needs are installed, or drop them from providers')
        initializers = {arg.name for arg in session.get_overridable_initializers()}
        # Raises EngineError for an unsupported tensor type; the session is then dropped.
        self._inputs = [self._info(arg) for arg in session.get_inputs()
                        if arg.name not in initializers]
        self._outputs = [self._info(arg) for arg in session.get_outputs()]
        self._output_names = [info.name for info in self._outputs]
        self.initializers_as_inputs = len(initializers)
        self._session = session
        self._check_int8_target(session, loaded)
        if initializers:
            logger.info(
                '%s lists %d initializers as graph inputs (old exporter); harmless, ONNX '
                "Runtime's per-initializer warnings suppressed", self.path.name,
                len(initializers))

    def describe(self) -> str:
        """Return the base summary, plus the INT8 target and why it is off target here."""
        text = super().describe()
        if self.int8_target:
            text += f'; INT8 made for {self.int8_target}'
        if self.int8_warning:
            text += f' (off target: {self.int8_warning})'
        return text

    def _check_int8_target(self, session: Any, providers: Sequence[str]) -> None:
        """Record the INT8 target the model was made for; warn when it runs off target."""
        metadata = dict(session.get_modelmeta().custom_metadata_map)
        self.int8_target = metadata.get(INT8_TARGET_KEY, '')
        self.int8_warning = target_warning(metadata, providers, cpu_int8_support())
        if self.int8_warning:
            logger.warning('%s: %s', self.path.name, self.int8_warning)

    def _info(self, arg: Any) -> TensorInfo:
        """Map an ONNX Runtime NodeArg to a TensorInfo."""
        dtype = ORT_DTYPES.get(arg.type)
        if dtype is None:
            raise EngineError(
                f'{str(self.path)!r}: tensor {arg.name!r} has type {arg.type}, which this '
                f'package cannot exchange; supported: {", ".join(sorted(ORT_DTYPES))}. '
                f'Re-export the model with a supported type')
        shape = arg.shape if isinstance(arg.shape, (list, tuple)) else []
        return TensorInfo(arg.name, tuple(_dim(d) for d in shape), dtype)

    def _deactivate(self) -> None:
        """Drop the session and its metadata."""
        self._session = None
        self._inputs = []
        self._outputs = []
        self._output_names = []

    # -- metadata ----------------------------------------------------------------------
    def _require_active(self) -> None:
        """Raise InferenceError when the runner has no session."""
        if self._session is None:
            raise InferenceError(
                f'runner {self.name!r} is not active; call activate() first')

    # -- inference ---------------------------------------------------------------------
    def _infer(self, feed: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
        """Run the session; return every output by name."""
        session = self._session
        if session is None:
            raise InferenceError(f'runner {self.name!r} is not active; call activate() first')
        try:
            results = session.run(self._output_names, feed)
        except Exception as error:  # noqa: B902 - ORT raises its own pybind exception types
            raise InferenceError(
                f'ONNX Runtime failed running {self.name!r}: {error_text(error)}; check the '
                f'input values and shapes against: {self.describe()}') from None
        return dict(zip(self._output_names, results))


def _load_failure(path: str, size: int, error: BaseException) -> str:
    """Say why ONNX Runtime refused a model file, by what it reported: the file or the graph."""
    text = error_text(error)
    if 'ShapeInferenceError' in text or 'TypeInferenceError' in text \
            or type(error).__name__ in ('InvalidGraph', 'NotImplemented'):
        return (f'ONNX Runtime reads {path!r} ({size} bytes) but refuses its graph: {text}. '
                'The file is intact; a node in it is invalid or unsupported by this ONNX '
                'Runtime: re-export the model (another opset or exporter version) or check it '
                'with onnx.checker.check_model(model, full_check=True)')
    return (f'ONNX Runtime cannot load {path!r} ({size} bytes): it is truncated, corrupt or '
            f'not an ONNX model; re-export the model or re-copy the file [{text}]')
