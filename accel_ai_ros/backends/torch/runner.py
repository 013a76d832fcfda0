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

"""
The PyTorch backend: ``torch.export`` programs (.pt2) and TorchScript (.ts) on CUDA or CPU.

PyTorch is imported when the runner activates, never when this module is imported. Files are
never unpickled with code execution: ``.pt2`` goes through ``torch.export.load`` and ``.ts``
through ``torch.jit.load``; a ``.pt`` file is accepted only when it is one of those two zip
archives, and a plain pickled module or state dict is refused with an EngineError.

Metadata: a ``.pt2`` program describes itself (its input placeholders' shapes and dtypes, and
its outputs: a module that returns a dict names them by key). TorchScript does not keep
shapes, so give them either as ``input_shapes={'images': (1, 3, 640, 640)}`` or in a sidecar
JSON next to the file, ``model.ts.json``::

    {"inputs": [{"name": "images", "shape": [1, 3, 640, 640], "dtype": "float32"}],
     "outputs": ["output0"]}

On CUDA with static input shapes, inputs and outputs live in preallocated device buffers and
the forward pass is captured in a CUDA graph after warm-up and replayed (at batch 1 kernel
launches, not arithmetic, bound latency). :meth:`TorchRunner.run_image` copies the camera
frame into pinned memory and replays ONE graph per frame: the upload, the fused
preprocessing kernel writing the input buffer, and the forward pass, captured on the first
frame of each image size (few Python-to-CUDA calls a frame: each one gives up the GIL, and
getting it back can wait for other threads of the process). Outputs come back to the host
as float32 numpy arrays (integer outputs keep their dtype). At ``precision='fp32'`` TF32 is
off, so results match an FP32 reference.
"""

import contextlib
import gc
import json
import logging
import os
from pathlib import Path
import threading
import time
from typing import Any
from typing import Dict
from typing import Iterator
from typing import List
from typing import Mapping
from typing import Optional
from typing import Sequence
from typing import Tuple
from typing import Union
import zipfile

import numpy as np

from accel_ai_ros.backends.base import Dim
from accel_ai_ros.backends.base import Runner
from accel_ai_ros.backends.base import TensorInfo
from accel_ai_ros.backends.registry import require_backend
from accel_ai_ros.errors import AccelAiError
from accel_ai_ros.errors import BackendUnavailableError
from accel_ai_ros.errors import EngineError
from accel_ai_ros.errors import error_text
from accel_ai_ros.errors import InferenceError
from accel_ai_ros.errors import ParameterError
from accel_ai_ros.fileio import check_model_file
from accel_ai_ros.image_codec import DecodedImage
from accel_ai_ros.preprocess import PreprocessSpec
from accel_ai_ros.transform import ImageTransform

PRECISIONS: Tuple[str, ...] = ('fp32', 'fp16', 'bf16')

#: Warm-up passes before a CUDA graph is captured (cuDNN picks its kernels on the first ones).
WARMUP_RUNS = 3

_LOG = logging.getLogger(__name__)

_TF32_LOCK = threading.RLock()  # _forward re-enters it inside graph capture


def _numpy_dtype(torch_dtype: Any) -> np.dtype:
    """Map a torch dtype to numpy (bfloat16 is reported as float32, its host form)."""
    name = str(torch_dtype).replace('torch.', '')
    if name == 'bfloat16':
        return np.dtype(np.float32)
    if name == 'bool':
        return np.dtype(np.bool_)
    return np.dtype(name)


def _dim(value: Any) -> Dim:
    """Turn a (possibly symbolic) torch size into an int or a symbolic name."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value)
    return str(value)  # a SymInt: int() would give the example's size, not a dynamic dim


def _archive_kind(path: Path) -> Optional[str]:
    """Return 'torchscript', 'export' or None for what kind of zip archive ``path`` is."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return None
    if any(n.endswith('/constants.pkl') or '/code/' in n for n in names):
        return 'torchscript'
    if any(n.endswith('/archive_format') or n.endswith('models/model.json') for n in names):
        return 'export'
    return None


class TorchRunner(Runner):
    """Run a ``torch.export`` program (.pt2) or a TorchScript module (.ts) with PyTorch.

    ``device`` is 'cuda', 'cuda:N', 'cpu' or 'auto' (CUDA when available, resolved on
    activation); 'auto' and 'cuda' mean CUDA device ``gpu_device``. Every call that touches
    CUDA (activate, infer, run_image, deactivate) makes that device current in the calling
    thread first, so loader and worker threads need not. ``precision`` 'fp32', 'fp16' or
    'bf16' (the
    weights are cast; inputs stay described as float32 and are cast on the device);
    ``cuda_graph`` captures and replays the forward pass when input shapes are static on CUDA.
    ``input_shapes`` gives TorchScript's input shapes (see the module docstring).
    """

    backend_name = 'torch'

    def __init__(
        self, path: Union[str, 'os.PathLike[str]'], device: str = 'auto',
        precision: str = 'fp32', cuda_graph: bool = True,
        input_shapes: Optional[Mapping[str, Sequence[int]]] = None, gpu_device: int = 0,
    ) -> None:
        """Remember the model file and settings; nothing is loaded yet."""
        self.path = Path(path)
        super().__init__(self.path.name)
        if precision not in PRECISIONS:
            raise ParameterError(
                f'precision {precision!r} is not supported by the torch backend; use one of '
                f'{", ".join(PRECISIONS)}')
        device = str(device)
        if not (device in ('cpu', 'cuda', 'auto') or device.startswith('cuda:')):
            raise ParameterError(f"device {device!r} is not supported; use 'cuda', 'cuda:N', "
                                 f"'cpu' or 'auto' (CUDA when PyTorch sees a GPU, else CPU)")
        if int(gpu_device) < 0:
            raise ParameterError(f'gpu_device {gpu_device} is negative; use a CUDA device index')
        self.gpu_device = int(gpu_device)
        self.device = device
        self.precision = precision
        self.cuda_graph = bool(cuda_graph)
        self.input_shapes = dict(input_shapes) if input_shapes else None
        self.last_gpu_ms = 0.0
        self._torch: Any = None
        self._module: Any = None
        self._inputs: List[TensorInfo] = []
        self._outputs: List[TensorInfo] = []
        self._output_keys: Optional[List[str]] = None
        self._dev: Any = None
        self._dtype: Any = None
        self._stream: Any = None
        self._graph: Any = None
        self._static_in: List[Any] = []
        self._static_out: List[Any] = []
        self._host_out: List[Any] = []
        self._events: Tuple[Any, ...] = ()
        self._gpu_input: Any = None  # GpuInput on CUDA, made on the first frame
        # The whole frame in one CUDA graph: upload, preprocessing kernel and forward pass.
        self._frame_graph: Any = None
        self._frame_key: Optional[Tuple[Any, ...]] = None
        self._frame_out: List[Any] = []
        self._frame_graph_error = ''

    # -- loading -----------------------------------------------------------------------
    def _check_file(self) -> int:
        """Raise EngineError when the model file is absent or empty; return its size."""
        return check_model_file(self.path, 'PyTorch model', 'the .pt2 or .ts file itself')

    def _load(self, torch: Any, size: int) -> Tuple[Any, str]:
        """Load the file without unpickling code; return (program or module, kind)."""
        suffix = self.path.suffix.lower()
        kind = {'.pt2': 'export', '.ts': 'torchscript'}.get(suffix) or _archive_kind(self.path)
        if kind is None:
            raise EngineError(
                f'{str(self.path)!r} ({size} bytes) is neither a torch.export (.pt2) nor a '
                f'TorchScript archive; plain pickled .pt modules and state dicts are refused '
                f'because unpickling them runs arbitrary code. Re-export the model with '
                f'torch.export.save (.pt2) or torch.jit.save (.ts), or re-copy the file')
        what = 'torch.export program' if kind == 'export' else 'TorchScript module'
        try:
            if kind == 'export':
                return torch.export.load(str(self.path)), kind
            return torch.jit.load(str(self.path), map_location='cpu'), kind
        except Exception as error:  # noqa: B902 - torch raises many types for a bad archive
            raise EngineError(
                f'PyTorch cannot load {str(self.path)!r} ({size} bytes) as a {what}: it is '
                f'truncated, corrupt or made by an incompatible PyTorch; re-export the model '
                f'or re-copy the file [{error_text(error)}]') from None

    def _export_metadata(self, program: Any) -> None:
        """Read input and output names, shapes and dtypes from a torch.export program."""
        user_inputs = list(program.graph_signature.user_inputs)
        vals = {}
        outputs: List[Any] = []
        for node in program.graph.nodes:
            if node.op == 'placeholder':
                vals[node.name] = node.meta.get('val')
            elif node.op == 'output':
                outputs = list(node.args[0]) if isinstance(node.args[0], (list, tuple)) \
                    else [node.args[0]]
        self._inputs = []
        for name in user_inputs:
            val = vals.get(name)
            if val is None or not hasattr(val, 'shape'):
                raise EngineError(
                    f'{str(self.path)!r}: input {name!r} is not a tensor; only tensor inputs '
                    f'are supported, re-export the model with tensor inputs')
            self._inputs.append(TensorInfo(name, tuple(_dim(d) for d in val.shape),
                                           _numpy_dtype(val.dtype)))
        out_spec = program.call_spec.out_spec
        user_outputs = list(program.graph_signature.user_outputs)
        keys = None
        if out_spec is not None and out_spec.type is dict and len(out_spec.context) == len(
                user_outputs):
            keys = [str(k) for k in out_spec.context]
        self._output_keys = keys
        names = keys or [str(n) for n in user_outputs]
        vals_out: List[Any] = [getattr(n, 'meta', {}).get('val')
                               for n in outputs[-len(user_outputs):]]
        self._outputs = []
        for name, val in zip(names, vals_out):
            shape = tuple(_dim(d) for d in val.shape) if hasattr(val, 'shape') else ()
            dtype = _numpy_dtype(val.dtype) if hasattr(val, 'dtype') else np.dtype(np.float32)
            if dtype.kind == 'f':
                dtype = np.dtype(np.float32)
            self._outputs.append(TensorInfo(name, shape, dtype))

    def _script_metadata(self) -> None:
        """Read TorchScript input shapes from ``input_shapes`` or the sidecar JSON."""
        sidecar = Path(str(self.path) + '.json')
        entries: List[Dict[str, Any]] = []
        output_names: Optional[List[str]] = None
        if sidecar.is_file():
            try:
                data = json.loads(sidecar.read_text())
                entries = list(data.get('inputs', []))
                output_names = [str(n) for n in data['outputs']] if 'outputs' in data else None
            except (ValueError, TypeError, KeyError, AttributeError) as error:
                raise EngineError(
                    f'{str(sidecar)!r} is not valid: {error_text(error)}; write '
                    f'{{"inputs": [{{"name": ..., "shape": [...], "dtype": "float32"}}], '
                    f'"outputs": [...]}}') from None
        if self.input_shapes:
            entries = [{'name': n, 'shape': list(s)} for n, s in self.input_shapes.items()]
        if not entries:
            raise EngineError(
                f'TorchScript {str(self.path)!r} does not record its input shapes; pass '
                f"input_shapes={{'images': (1, 3, 640, 640)}} or write {str(sidecar)!r} with "
                f'{{"inputs": [{{"name": "images", "shape": [1, 3, 640, 640]}}]}}')
        self._inputs = [TensorInfo(str(e['name']), tuple(int(d) for d in e['shape']),
                                   np.dtype(e.get('dtype', 'float32'))) for e in entries]
        self._output_keys = output_names
        self._outputs = []  # filled by the first (warm-up) run

    # -- lifecycle ---------------------------------------------------------------------
    def _activate(self) -> None:
        """Load the model, move it to the device and precision, capture a CUDA graph."""
        size = self._check_file()
        torch = require_backend('torch')
        if self.device == 'auto':
            self.device = 'cuda' if torch.cuda.is_available() else 'cpu'
        if self.device == 'cuda':
            self.device = f'cuda:{self.gpu_device}'
        if self.device.startswith('cuda') and not torch.cuda.is_available():
            raise BackendUnavailableError(
                f'device {self.device!r} was asked for but this PyTorch sees no CUDA device '
                f'(torch {torch.__version__}, CUDA build {torch.version.cuda}); install a CUDA '
                f"build of PyTorch or use device='cpu'")
        if self.device.startswith('cuda:') and \
                int(self.device[5:]) >= torch.cuda.device_count():
            raise BackendUnavailableError(
                f'device {self.device!r} was asked for but PyTorch sees '
                f'{torch.cuda.device_count()} CUDA device(s); set gpu_device below that')
        loaded, kind = self._load(torch, size)
        try:
            if kind == 'export':
                self._export_metadata(loaded)
                module = loaded.module()
            else:
                self._script_metadata()
                module = loaded.eval()
            dev = torch.device(self.device)
            dtype = {'fp32': torch.float32, 'fp16': torch.float16,
                     'bf16': torch.bfloat16}[self.precision]
            with self._on_device(dev):
                module = module.to(dev)
                if dtype != torch.float32:
                    module = module.to(dtype)
        except EngineError:
            raise
        except Exception as error:  # noqa: B902 - torch raises many types here
            raise EngineError(
                f'PyTorch cannot prepare {str(self.path)!r} on {self.device} at '
                f'{self.precision}: {error_text(error)}; re-export the model or choose another '
                f'device or precision') from None
        self._torch, self._module, self._dev, self._dtype = torch, module, dev, dtype
        try:
            with self._on_device():
                if dev.type == 'cuda':
                    self._stream = torch.cuda.Stream(dev)
                    self._events = (torch.cuda.Event(enable_timing=True),
                                    torch.cuda.Event(enable_timing=True))
                if all(info.is_static for info in self._inputs):
                    self._prepare_static()
        except BaseException:
            self._deactivate()
            raise

    def _input_dtype(self, info: TensorInfo) -> Any:
        """Return the device dtype of an input: the compute dtype for float inputs."""
        if info.dtype.kind == 'f':
            return self._dtype
        return getattr(self._torch, info.dtype.name)

    def _prepare_static(self) -> None:
        """Allocate static buffers, warm up and (on CUDA) capture the forward pass."""
        torch = self._torch
        self._static_in = [torch.zeros([int(d) for d in info.shape],  # type: ignore[arg-type]
                                       dtype=self._input_dtype(info), device=self._dev)
                           for info in self._inputs]
        with self._stream_context(), torch.inference_mode():
            outs = self._forward(self._static_in)
            for _ in range(WARMUP_RUNS - 1 if self._dev.type == 'cuda' else 0):
                outs = self._forward(self._static_in)
        if not self._outputs:
            self._outputs = [TensorInfo(name, tuple(int(d) for d in o.shape),
                                        _numpy_dtype(o.dtype)) for name, o in outs]
        if self._dev.type != 'cuda':
            return
        self._host_out = [torch.empty(tuple(o.shape), dtype=o.dtype, device='cpu',
                                      pin_memory=True)
                          for _, o in outs]
        if not self.cuda_graph:
            return
        self._stream.synchronize()
        graph = torch.cuda.CUDAGraph()
        # Thread-local capture: the worker keeps serving the old engine on its own stream
        # while a loader thread captures this one (a live swap); in the default global mode
        # the worker's CUDA calls would invalidate the capture or fail themselves.
        with torch.inference_mode(), self._precision_flags():
            with torch.cuda.graph(graph, stream=self._stream, capture_error_mode='thread_local'):
                captured = self._forward(self._static_in)
        self._graph = graph
        self._static_out = [o for _, o in captured]

    @contextlib.contextmanager
    def _on_device(self, dev: Any = None) -> Iterator[None]:
        """Make this runner's CUDA device current in the calling thread (nothing on the CPU)."""
        dev = self._dev if dev is None else dev
        if dev is None or dev.type != 'cuda':
            yield
        else:
            with self._torch_module().cuda.device(dev):
                yield

    def _torch_module(self) -> Any:
        return self._torch if self._torch is not None else require_backend('torch')

    @contextlib.contextmanager
    def _stream_context(self) -> Iterator[None]:
        """Run the enclosed work on this runner's CUDA stream (nothing on the CPU)."""
        if self._stream is None:
            yield
        else:
            with self._torch.cuda.stream(self._stream):
                yield

    @contextlib.contextmanager
    def _precision_flags(self) -> Iterator[None]:
        """Turn TF32 off around FP32 work, so results match an FP32 reference."""
        if self.precision != 'fp32' or self._dev.type != 'cuda':
            yield
            return
        backends = self._torch.backends
        with _TF32_LOCK:
            saved = (backends.cudnn.allow_tf32, backends.cuda.matmul.allow_tf32)
            backends.cudnn.allow_tf32 = False
            backends.cuda.matmul.allow_tf32 = False
            try:
                yield
            finally:
                backends.cudnn.allow_tf32, backends.cuda.matmul.allow_tf32 = saved

    def _forward(self, tensors: List[Any]) -> List[Tuple[str, Any]]:
        """Call the module; return (name, tensor) per output, floats as float32."""
        torch = self._torch
        with self._precision_flags():
            result = self._module(*tensors)
        if isinstance(result, dict):
            keys = self._output_keys or [str(k) for k in result]
            leaves = [result[k] for k in keys]
        elif isinstance(result, (list, tuple)):
            leaves = list(result)
            keys = None
        else:
            leaves = [result]
            keys = None
        if keys is None:
            keys = ([i.name for i in self._outputs] if len(self._outputs) == len(leaves)
                    else (self._output_keys or [f'output{i}' for i in range(len(leaves))]))
        pairs = []
        for name, leaf in zip(keys, leaves):
            if not isinstance(leaf, torch.Tensor):
                raise InferenceError(
                    f'{self.name!r} returned a {type(leaf).__name__} for output {name!r}; '
                    f'only tensor outputs are supported')
            pairs.append((name, leaf.float() if leaf.is_floating_point() else leaf))
        return pairs

    def _deactivate(self) -> None:
        """Drop the graph, buffers, module and preprocessor; give the device memory back."""
        with self._on_device():
            if self._gpu_input is not None:
                self._gpu_input.close()
            if self._stream is not None:
                self._stream.synchronize()
            self._gpu_input = None
            self._frame_graph, self._frame_key, self._frame_out = None, None, []
            self._graph = None
            self._static_in, self._static_out, self._host_out = [], [], []
            self._events = ()
            self._stream = None
            self._module = None
            self._inputs, self._outputs = [], []
            self._output_keys = None
            if self._dev is not None and self._dev.type == 'cuda':
                gc.collect()  # the exported module's reference cycles hold its weights
                self._torch.cuda.empty_cache()

    # -- metadata ----------------------------------------------------------------------
    def _require_active(self) -> None:
        if self._module is None:
            raise InferenceError(f'runner {self.name!r} is not active; call activate() first')

    @property
    def uses_frame_graph(self) -> bool:
        """Return True when a frame's upload, preprocessing and forward pass are one graph."""
        return self._frame_graph is not None

    @property
    def uses_cuda_graph(self) -> bool:
        """Return True when the forward pass is replayed from a captured CUDA graph."""
        return self._graph is not None

    # -- inference ---------------------------------------------------------------------
    def _run_static(self) -> Dict[str, np.ndarray]:
        """Run on the static input buffers (CUDA); return host copies of the outputs."""
        torch = self._torch
        start, end = self._events
        names = [info.name for info in self._outputs]
        with self._stream_context(), torch.inference_mode():
            start.record(self._stream)
            if self._graph is not None:
                self._graph.replay()
                device_out = self._static_out
            else:
                device_out = [o for _, o in self._forward(self._static_in)]
            end.record(self._stream)
            for host, dev in zip(self._host_out, device_out):
                host.copy_(dev, non_blocking=True)
        self._stream.synchronize()
        self.last_gpu_ms = float(start.elapsed_time(end))
        return {name: host.numpy().copy() for name, host in zip(names, self._host_out)}

    def _infer(self, feed: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
        """Copy the host feed to the device, run, and return host arrays."""
        torch = self._torch
        try:
            if self._static_in and self._dev.type == 'cuda':
                with self._on_device(), self._stream_context():
                    for info, buffer in zip(self._inputs, self._static_in):
                        buffer.copy_(torch.from_numpy(np.ascontiguousarray(feed[info.name])),
                                     non_blocking=False)
                return self._run_static()
            start = time.perf_counter()
            with self._on_device(), self._stream_context(), torch.inference_mode():
                tensors = [torch.from_numpy(np.ascontiguousarray(feed[info.name])).to(
                    self._dev, self._input_dtype(info)) for info in self._inputs]
                outs = self._forward(tensors)
                result = {name: t.cpu().numpy() for name, t in outs}
            self.last_gpu_ms = (time.perf_counter() - start) * 1e3
            return result
        except (InferenceError, EngineError):
            raise
        except Exception as error:  # noqa: B902 - torch raises RuntimeError and others
            raise InferenceError(
                f'PyTorch failed running {self.name!r}: {error_text(error)}; check the input '
                f'values and shapes against: {self.describe()}') from None

    def run_image(self, image: DecodedImage,
                  spec: PreprocessSpec) -> Tuple[Dict[str, np.ndarray], ImageTransform]:
        """Preprocess on the GPU into the static input buffer and run; CPU path otherwise.

        The GPU path needs CUDA, one static input and a spec whose shape matches it; the
        frame is uploaded once and the fused kernel writes the compute dtype directly.
        """
        if not self.is_active:
            raise InferenceError(f'runner {self.name!r} is not active; call activate() first')
        if self._dev.type != 'cuda' or len(self._static_in) != 1:
            return super().run_image(image, spec)
        info = self._inputs[0]
        if tuple(info.shape) != spec.output_shape or np.dtype(spec.dtype) != info.dtype:
            raise InferenceError(
                f'the preprocessing gives {spec.dtype} {spec.output_shape} but input '
                f'{info.name!r} takes {info.dtype} {info.shape}; set the input size, layout '
                f'and dtype to match the model')
        try:
            return self._run_image_gpu(image, spec)
        except AccelAiError:
            raise
        except Exception as error:  # noqa: B902 - torch and CUDA raise RuntimeError and others
            raise InferenceError(
                f'PyTorch failed running {self.name!r} on {self.device}: {error_text(error)}; '
                f'check the GPU (nvidia-smi) and the model') from None

    def _run_image_gpu(self, image: DecodedImage,
                       spec: PreprocessSpec) -> Tuple[Dict[str, np.ndarray], ImageTransform]:
        """Upload, preprocess into the static input and run the graph (device current)."""
        start = time.perf_counter()
        with self._on_device():
            if self._gpu_input is None:
                from accel_ai_ros.gpu.preprocess import GpuInput
                self._gpu_input = GpuInput(self._dev.index, self.name)
            out_dtype = {'fp32': 'float32', 'fp16': 'float16', 'bf16': 'bfloat16'}[
                self.precision] if spec.dtype != 'uint8' else 'uint8'
            pre = self._gpu_input.get(spec, out_dtype)
            if pre is None:  # GPU preprocessing cannot work here: preprocess on the CPU
                return super().run_image(image, spec)
            out_ptr = self._static_in[0].data_ptr()
            if self._graph is None or self._frame_graph_error:
                transform = pre(image, out_ptr, self._stream.cuda_stream)
                middle = time.perf_counter()
                self.last_preprocess_ms = (middle - start) * 1e3
                outputs = self._run_static()
                self.last_inference_ms = (time.perf_counter() - middle) * 1e3
                return outputs, transform
            # The previous frame ended with a synchronised stream: its upload is done.
            plan, params, nbytes = pre.stage(image)
            middle = time.perf_counter()
            self.last_preprocess_ms = (middle - start) * 1e3
            key = (pre.frame_key(params), nbytes, out_ptr)
            if key == self._frame_key:
                outputs = self._replay_frame()
            else:
                # The first frame of a size runs as separate launches, which also loads the
                # kernel (its first launch inside a capture would invalidate the capture,
                # CUDA loads modules lazily); the graph for the next frames is captured after.
                pre.queue(params, nbytes, out_ptr, self._stream.cuda_stream)
                outputs = self._run_static()
                if self._capture_frame(pre, params, nbytes, out_ptr):
                    self._frame_key = key
        self.last_inference_ms = (time.perf_counter() - middle) * 1e3
        return outputs, plan.transform

    def _capture_frame(self, pre: Any, params: Any, nbytes: int, out_ptr: int) -> bool:
        """Capture upload, preprocessing and forward pass as one graph; False if it failed.

        Captured after the first frame of a size (the kernel's arguments, the staging buffers
        and the input buffer are baked in; capturing records, it runs nothing), in
        thread-local mode on the runner's own stream. A failure is logged once and frames
        keep going the separate-launch way.
        """
        torch = self._torch
        self._frame_graph, self._frame_key, self._frame_out = None, None, []
        graph = torch.cuda.CUDAGraph()
        try:
            with torch.inference_mode(), self._precision_flags():
                with torch.cuda.graph(graph, stream=self._stream,
                                      capture_error_mode='thread_local'):
                    pre.queue(params, nbytes, out_ptr, self._stream.cuda_stream)
                    captured = self._forward(self._static_in)
        except Exception as error:  # noqa: B902 - any capture failure keeps the plain path
            self._frame_graph_error = error_text(error)
            _LOG.warning('%s: preprocessing and inference run as separate launches (capturing '
                         'them as one CUDA graph failed: %s)', self.name,
                         self._frame_graph_error)
            with contextlib.suppress(Exception):
                self._stream.synchronize()
            return False
        self._frame_graph, self._frame_out = graph, [o for _, o in captured]
        return True

    def _replay_frame(self) -> Dict[str, np.ndarray]:
        """Replay the whole-frame graph; return host copies of the outputs."""
        names = [info.name for info in self._outputs]
        start, end = self._events
        with self._stream_context():
            start.record(self._stream)
            self._frame_graph.replay()
            end.record(self._stream)
            for host, dev in zip(self._host_out, self._frame_out):
                host.copy_(dev, non_blocking=True)
        self._stream.synchronize()
        self.last_gpu_ms = float(start.elapsed_time(end))  # upload, kernel and forward pass
        return {name: host.numpy().copy() for name, host in zip(names, self._host_out)}
