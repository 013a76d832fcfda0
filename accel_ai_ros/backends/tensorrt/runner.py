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

"""The TensorRT backend: a serialized engine behind the :class:`Runner` contract.

Device memory, pinned host memory, streams and events come from the package's one CUDA
wrapper, :mod:`accel_ai_ros.gpu.cuda` (NVIDIA's cuda-python driver API in the device's
primary context, the one TensorRT's runtime uses), not PyCUDA: ``pycuda.autoinit`` binds a
CUDA context to the thread that imports it, while the node infers in a worker thread, and
PyCUDA has no Jetson wheels. Every call that touches CUDA (activate, infer, run_image,
deactivate) makes the runner's device current in the calling thread first.

Only the TensorRT 10/11 named-tensor API is used (``num_io_tensors``, ``set_input_shape``,
``set_tensor_address``, ``execute_async_v3``). Runners of one process share one deserialized
engine per file (keyed by real path, mtime and size, reference-counted) and each owns an
execution context, a CUDA stream, two timing events and buffers that are allocated once per
shape and reused. TensorRT and cuda-python are imported when a runner activates.
"""

import logging
import os
from pathlib import Path
import threading
import time
from typing import Any
from typing import Callable
from typing import Dict
from typing import List
from typing import Optional
from typing import Tuple
from typing import TYPE_CHECKING
from typing import Union

import numpy as np

from accel_ai_ros.backends.base import Runner
from accel_ai_ros.backends.base import TensorInfo
from accel_ai_ros.backends.tensorrt.manifest import PlatformInfo
from accel_ai_ros.backends.tensorrt.manifest import read_manifest
from accel_ai_ros.backends.tensorrt.util import deserialize_failure_message
from accel_ai_ros.backends.tensorrt.util import device_platform
from accel_ai_ros.backends.tensorrt.util import dims_list
from accel_ai_ros.backends.tensorrt.util import dims_to_shape
from accel_ai_ros.backends.tensorrt.util import EngineDeserializeError
from accel_ai_ros.backends.tensorrt.util import format_precision_summary
from accel_ai_ros.backends.tensorrt.util import import_tensorrt
from accel_ai_ros.backends.tensorrt.util import io_tensor_problem
from accel_ai_ros.backends.tensorrt.util import numpy_dtype
from accel_ai_ros.backends.tensorrt.util import precision_warning
from accel_ai_ros.backends.tensorrt.util import profile_problem
from accel_ai_ros.backends.tensorrt.util import summarize_layer_precisions
from accel_ai_ros.backends.tensorrt.util import TrtLog
from accel_ai_ros.errors import AccelAiError
from accel_ai_ros.errors import collapse_whitespace
from accel_ai_ros.errors import EngineError
from accel_ai_ros.errors import InferenceError
from accel_ai_ros.gpu import cuda
from accel_ai_ros.gpu.preprocess import GpuInput
from accel_ai_ros.image_codec import DecodedImage
from accel_ai_ros.preprocess import PreprocessSpec
from accel_ai_ros.transform import ImageTransform

if TYPE_CHECKING:
    import tensorrt as trt_types  # noqa: F401 - used in string annotations

logger = logging.getLogger('accel_ai_ros')


class _SharedEngines:
    """Deserialized engines shared by the runners of this process, reference-counted."""

    _lock = threading.Lock()
    _entries: Dict[Tuple[Any, ...], List[Any]] = {}  # key -> [runtime, engine, refs]

    @classmethod
    def acquire(cls, path: Path, allow_plugins: bool, shared: bool,
                device: int) -> Tuple[Tuple[Any, ...], 'trt_types.ICudaEngine']:
        """Return (key, engine) for ``path``, deserializing it once per process."""
        stat = path.stat()
        key: Tuple[Any, ...] = (os.path.realpath(path), stat.st_mtime_ns, stat.st_size,
                                allow_plugins, device)
        if not shared:
            key = key + (object(),)
        with cls._lock:
            entry = cls._entries.get(key)
            if entry is None:
                runtime, engine = _deserialize(path, stat.st_size, allow_plugins, device)
                entry = cls._entries[key] = [runtime, engine, 0]
            entry[2] += 1
            return key, entry[1]

    @classmethod
    def release(cls, key: Tuple[Any, ...]) -> None:
        """Drop one reference; free the engine with the last one."""
        with cls._lock:
            entry = cls._entries.get(key)
            if entry is not None:
                entry[2] -= 1
                if entry[2] <= 0:
                    del cls._entries[key]


def _deserialize(path: Path, size: int, allow_plugins: bool,
                 device: int) -> Tuple['trt_types.Runtime', 'trt_types.ICudaEngine']:
    """Deserialize ``path``; raise the explanatory EngineError when TensorRT refuses it."""
    import tensorrt as trt
    log = TrtLog.get()
    TrtLog.take_errors()
    runtime = trt.Runtime(log)
    # Engines may embed host code (plugins, lean/dispatch runtimes): run it only when asked.
    runtime.engine_host_code_allowed = bool(allow_plugins)
    engine = runtime.deserialize_cuda_engine(path.read_bytes()) if size else None
    if engine is None:
        try:
            here: Optional[PlatformInfo] = device_platform(device)
        except AccelAiError:
            here = None
        raise EngineDeserializeError(deserialize_failure_message(
            path, size, here, read_manifest(path), TrtLog.take_errors(), allow_plugins))
    return runtime, engine


def released(what: str, release: Callable[[], None]) -> bool:
    """Run a CUDA free or destroy call; log (never raise) its failure; return success.

    Teardown goes on after a failed release, so that the other resources are freed too; the
    failure is logged with the CUDA error, since it usually means a sticky device error.
    """
    try:
        release()
    except cuda.CudaError as error:
        logger.warning('CUDA %s failed while releasing TensorRT resources: %s', what, error)
        return False
    return True


class TensorRTRunner(Runner):
    """Run a serialized TensorRT engine (.engine/.plan) on one GPU.

    ``allow_plugins`` lets TensorRT run host code embedded in the engine (plugins, lean or
    dispatch runtimes): enable it only for engines you trust. ``shared_engines`` shares one
    deserialized engine between the runners of this process that load the same file.
    ``last_gpu_ms`` is the engine's own GPU time, measured with CUDA events.
    """

    backend_name = 'tensorrt'

    def __init__(self, path: Union[str, 'os.PathLike[str]'], device: int = 0,
                 allow_plugins: bool = False, shared_engines: bool = True) -> None:
        self.path = Path(path)
        super().__init__(self.path.name)
        self.device = int(device)
        self.allow_plugins = bool(allow_plugins)
        self.shared_engines = bool(shared_engines)
        self.last_gpu_ms = 0.0
        self.layer_precisions: Dict[str, int] = {}
        self._key: Optional[Tuple[Any, ...]] = None
        self._engine: Optional['trt_types.ICudaEngine'] = None
        self._context: Optional['trt_types.IExecutionContext'] = None
        self._stream: Optional[cuda.Stream] = None
        self._events: Tuple[cuda.Event, ...] = ()
        self._inputs: List[TensorInfo] = []
        self._outputs: List[TensorInfo] = []
        self._profiles: Dict[str, Tuple[Tuple[int, ...], Tuple[int, ...]]] = {}
        self._device_buffers: Dict[str, cuda.DeviceBuffer] = {}
        self._host_buffers: Dict[str, cuda.PinnedBuffer] = {}
        self._gpu_input = GpuInput(self.device, self.name)

    # -- lifecycle ---------------------------------------------------------------------
    def _activate(self) -> None:
        """Deserialize (or share) the engine; create context, stream, events; read IO."""
        if not self.path.exists():
            raise EngineError(f'TensorRT engine {str(self.path)!r} does not exist; check the '
                              f'engines.<precision> parameter / path, or configure its ONNX '
                              f'source so that it is built')
        import_tensorrt()
        cuda.make_current(self.device)
        try:
            self._key, engine = _SharedEngines.acquire(
                self.path, self.allow_plugins, self.shared_engines, self.device)
            self._engine = engine
            self._context = engine.create_execution_context()
            if self._context is None:
                raise EngineError(f'TensorRT could not create an execution context for '
                                  f'{str(self.path)!r} (out of GPU memory?); free GPU memory '
                                  f'or use a smaller engine')
            self._stream = cuda.Stream(self.device)
            self._events = (cuda.Event(self.device), cuda.Event(self.device))
            self._read_io(engine)
            self._log_layer_precisions(engine)
        except BaseException:
            self._deactivate()
            raise

    def _read_io(self, engine: 'trt_types.ICudaEngine') -> None:
        """Describe the engine's inputs and outputs, with profile 0's range per input."""
        import tensorrt as trt
        for index in range(engine.num_io_tensors):
            name = engine.get_tensor_name(index)
            problem = io_tensor_problem(name, engine.get_tensor_location(name).name,
                                        bool(engine.is_shape_inference_io(name)))
            if problem:
                raise EngineError(f'{str(self.path)!r}: {problem}')
            dtype = numpy_dtype(engine.get_tensor_dtype(name).name, name)
            info = TensorInfo(name, dims_to_shape(engine.get_tensor_shape(name)), dtype)
            if engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT:
                self._inputs.append(info)
                if not info.is_static:
                    low, _, high = engine.get_tensor_profile_shape(name, 0)
                    self._profiles[name] = (tuple(dims_list(low)), tuple(dims_list(high)))
            else:
                self._outputs.append(info)

    def _log_layer_precisions(self, engine: 'trt_types.ICudaEngine') -> None:
        """Log how many layers run in each precision (IEngineInspector, JSON)."""
        import tensorrt as trt
        try:
            inspector = engine.create_engine_inspector()
            text = inspector.get_engine_information(trt.LayerInformationFormat.JSON)
            self.layer_precisions = summarize_layer_precisions(text)
        except (ValueError, RuntimeError, AttributeError) as error:
            logger.info('%s: layer precisions unavailable (%s)', self.name,
                        collapse_whitespace(error))
            return
        logger.info('%s runs %s', self.name, format_precision_summary(self.layer_precisions))
        manifest = read_manifest(self.path)
        warning = precision_warning(manifest.precision if manifest else '',
                                    self.layer_precisions)
        if warning:
            logger.warning('%s: %s', self.name, warning)

    def _deactivate(self) -> None:
        """Free buffers, events, stream and context; release the shared engine."""
        released('GPU preprocessor release', self._gpu_input.close)
        for buffer in list(self._device_buffers.values()) + list(self._host_buffers.values()):
            released('memory release', buffer.free)
        self._device_buffers, self._host_buffers = {}, {}
        for event in self._events:
            released('event destroy', event.close)
        if self._stream is not None:
            released('stream destroy', self._stream.close)
        self._events, self._stream = (), None
        self._context = None
        self._engine = None
        if self._key is not None:
            _SharedEngines.release(self._key)
            self._key = None
        self._inputs, self._outputs, self._profiles = [], [], {}

    # -- metadata ----------------------------------------------------------------------
    def _require_active(self) -> None:
        """Raise InferenceError when the runner has no context."""
        if self._context is None:
            raise InferenceError(f'runner {self.name!r} is not active; call activate() first')

    # -- inference ---------------------------------------------------------------------
    def _set_input(self, name: str, shape: Tuple[int, ...], nbytes: int) -> int:
        """Check ``shape`` against the profile, set it, return the input's device pointer."""
        assert self._context is not None
        if name in self._profiles:
            problem = profile_problem(name, shape, *self._profiles[name])
            if problem:
                raise InferenceError(problem)
        if not self._context.set_input_shape(name, shape):
            raise InferenceError(f'TensorRT refused shape {shape} for input {name!r}; '
                                 f'{self.describe()}')
        buffer = self._device_buffers.setdefault(name, cuda.DeviceBuffer(0, self.device))
        ptr = buffer.reserve(max(nbytes, 1))
        self._bind(name, ptr)
        return ptr

    def _bind(self, name: str, ptr: int) -> None:
        """Give TensorRT the address of tensor ``name``; InferenceError when it refuses."""
        assert self._context is not None
        if not self._context.set_tensor_address(name, ptr):
            raise InferenceError(f'TensorRT refused the buffer of tensor {name!r} of '
                                 f'{self.name!r}: '
                                 f'{"; ".join(TrtLog.take_errors()) or "no detail"}')

    def _infer(self, feed: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
        """Copy the feed to the device, execute, copy outputs back; synchronised."""
        self._require_active()
        assert self._stream is not None
        cuda.make_current(self.device)
        for name, array in feed.items():
            array = np.ascontiguousarray(array)
            ptr = self._set_input(name, tuple(array.shape), array.nbytes)
            host = self._host_buffers.setdefault(name, cuda.PinnedBuffer(0, self.device))
            staged = host.view(array.shape, array.dtype)
            np.copyto(staged, array)
            cuda.memcpy_htod_async(ptr, host.ptr, array.nbytes, self._stream.ptr)
        return self._execute()

    def _execute(self) -> Dict[str, np.ndarray]:
        """Run the engine on the stream with inputs already in place; return host outputs."""
        context, stream = self._context, self._stream
        assert context is not None and stream is not None
        shapes = {}
        for info in self._outputs:
            shape = tuple(dims_list(context.get_tensor_shape(info.name)))
            if any(d < 0 for d in shape):
                raise InferenceError(
                    f'output {info.name!r} of {self.name!r} has a data-dependent shape '
                    f'{shape}; such engines are not supported, export the model with '
                    f'fixed-size outputs')
            shapes[info.name] = shape
            nbytes = int(np.prod(shape, dtype=np.int64)) * info.dtype.itemsize
            device = self._device_buffers.setdefault(info.name,
                                                     cuda.DeviceBuffer(0, self.device))
            self._bind(info.name, device.reserve(max(nbytes, 1)))
            self._host_buffers.setdefault(info.name, cuda.PinnedBuffer(0, self.device)).reserve(
                max(nbytes, 1))
        start, end = self._events
        start.record(stream.ptr)
        if not context.execute_async_v3(stream.ptr):
            raise InferenceError(f'TensorRT failed running {self.name!r}: '
                                 f'{"; ".join(TrtLog.take_errors()) or "no detail"}; check '
                                 f'the inputs against: {self.describe()}')
        end.record(stream.ptr)
        outputs = {}
        for info in self._outputs:
            host = self._host_buffers[info.name]
            view = host.view(shapes[info.name], info.dtype)
            cuda.memcpy_dtoh_async(host.ptr, self._device_buffers[info.name].ptr, view.nbytes,
                                   stream.ptr)
            outputs[info.name] = view
        stream.synchronize()
        self.last_gpu_ms = start.elapsed_ms(end)
        # Copies: the pinned buffers are reused by the next call.
        return {name: np.array(view) for name, view in outputs.items()}

    def run_image(self, image: DecodedImage,
                  spec: PreprocessSpec) -> Tuple[Dict[str, np.ndarray], ImageTransform]:
        """Preprocess on the GPU straight into the engine's input, then infer.

        Falls back to the CPU path of :meth:`Runner.run_image` when GPU preprocessing is not
        available or the engine takes more than one input.
        """
        if not self.is_active:
            raise InferenceError(f'runner {self.name!r} is not active; call activate() first')
        infos = self.inputs()
        cuda.make_current(self.device)
        pre = self._gpu_input.get(spec) if len(infos) == 1 else None
        if pre is None:
            return super().run_image(image, spec)
        start = time.perf_counter()
        info = infos[0]
        dtype = np.dtype(spec.dtype)
        problem = info.matches(np.broadcast_to(np.zeros((), dtype), spec.output_shape))
        if problem:
            raise InferenceError(problem)
        shape = tuple(spec.output_shape)
        ptr = self._set_input(info.name, shape,
                              int(np.prod(shape, dtype=np.int64)) * dtype.itemsize)
        assert self._stream is not None
        transform = pre(image, ptr, self._stream.ptr)
        begin = time.perf_counter()
        self.last_preprocess_ms = (begin - start) * 1e3
        outputs = self._execute()
        self.last_inference_ms = (time.perf_counter() - begin) * 1e3
        return outputs, transform
