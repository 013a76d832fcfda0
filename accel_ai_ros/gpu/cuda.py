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
Thin helpers over NVIDIA's cuda-python (``cuda.bindings``): errors, buffers, streams, kernels.

cuda-python rather than PyCUDA: PyCUDA's ``autoinit`` binds a context to the importing thread,
while the node infers in a worker thread, and PyCUDA has no Jetson wheels; cuda-python has
wheels for x86-64 and aarch64 and TensorRT's samples use it. Everything here works in the
device's *primary* context, the one the CUDA runtime, PyTorch and TensorRT use, and makes it
current in the calling thread before each operation (:func:`make_current`), so buffers and
kernels can be used from any thread.

- :class:`DeviceBuffer`, :class:`PinnedBuffer`: device and page-locked host memory, growable.
- :class:`Stream`, :class:`Event`: a non-blocking stream; events that time on the GPU.
- :func:`compile_kernel`: NVRTC compile for the device's architecture (cached per process),
  module load, and a :class:`Kernel` whose :meth:`Kernel.launch` takes a ctypes structure.
"""

import ctypes
import hashlib
import threading
from typing import Any
from typing import Dict
from typing import Optional
from typing import Tuple

import numpy as np

from accel_ai_ros.errors import BackendUnavailableError
from accel_ai_ros.errors import InferenceError

_INSTALL_HINT = ('install NVIDIA cuda-python: pip install cuda-python (or cuda-bindings '
                 'matching your CUDA major version); on Jetson use the aarch64 wheel')

# Two locks, always taken in this order when nested: _kernel_lock, then _context_lock.
_context_lock = threading.Lock()  # guards _contexts (cuInit, primary context retain)
_kernel_lock = threading.Lock()  # guards _kernels (one NVRTC compile per key)
_modules: Dict[str, Any] = {}
_contexts: Dict[int, Any] = {}
_kernels: Dict[Tuple[str, str, int], 'Kernel'] = {}


class CudaError(InferenceError):
    """A CUDA driver or NVRTC call failed; the message names the call and the error."""


def _import(name: str) -> Any:
    """Import ``cuda.bindings.<name>`` (or the pre-12.6 ``cuda.<name>``) once."""
    module = _modules.get(name)
    if module is not None:
        return module
    try:
        module = __import__(f'cuda.bindings.{name}', fromlist=[name])
    except ImportError:
        legacy = 'cuda' if name == 'driver' else name
        try:
            module = __import__(f'cuda.{legacy}', fromlist=[legacy])
        except ImportError as error:
            raise BackendUnavailableError(
                f'GPU preprocessing needs cuda-python ({error}); {_INSTALL_HINT}') from None
    _modules[name] = module
    return module


def driver() -> Any:
    """Return the ``cuda.bindings.driver`` module."""
    return _import('driver')


def nvrtc() -> Any:
    """Return the ``cuda.bindings.nvrtc`` module."""
    return _import('nvrtc')


def check(result: Any, what: str) -> Any:
    """Raise CudaError when a cuda-python call failed; return its value(s).

    cuda-python returns ``(error, value, ...)``; this returns None, the one value, or the
    tuple of values.
    """
    if not isinstance(result, tuple):
        result = (result,)
    error, values = result[0], result[1:]
    if int(error) != 0:
        name = getattr(error, 'name', str(error))
        detail = ''
        drv = _modules.get('driver')
        if drv is not None and isinstance(error, drv.CUresult):
            text = drv.cuGetErrorString(error)
            if int(text[0]) == 0 and text[1]:
                detail = f': {text[1].decode(errors="replace")}'
        raise CudaError(f'{what} failed with {name}{detail}; check that the GPU is present, '
                        f'not out of memory and that the driver matches the CUDA version')
    if not values:
        return None
    return values[0] if len(values) == 1 else values


def is_available(device: int = 0) -> Optional[str]:
    """Return None when cuda-python and CUDA device ``device`` work, else why not."""
    try:
        make_current(device)
    except (BackendUnavailableError, CudaError) as error:
        return str(error)
    return None


def make_current(device: int = 0) -> Any:
    """Make ``device``'s primary context current in this thread; return the context."""
    ctx = _contexts.get(device)
    drv = driver()
    if ctx is None:
        with _context_lock:
            ctx = _contexts.get(device)
            if ctx is None:
                try:
                    result = drv.cuInit(0)
                except Exception as error:  # noqa: B902 - cuda-bindings raises its own types
                    raise BackendUnavailableError(
                        f'the CUDA driver library cannot be loaded ({type(error).__name__}: '
                        f'{" ".join(str(error).split())}); install the NVIDIA driver or run '
                        f'on a machine with an NVIDIA GPU') from None
                check(result, 'cuInit')
                count = check(drv.cuDeviceGetCount(), 'cuDeviceGetCount')
                if not 0 <= device < count:
                    raise CudaError(f'CUDA device {device} does not exist ({count} device(s)); '
                                    f'choose a device index below {count}')
                handle = check(drv.cuDeviceGet(device), 'cuDeviceGet')
                ctx = check(drv.cuDevicePrimaryCtxRetain(handle), 'cuDevicePrimaryCtxRetain')
                _contexts[device] = ctx
    check(drv.cuCtxSetCurrent(ctx), 'cuCtxSetCurrent')
    return ctx


def _device(device: int) -> Any:
    return check(driver().cuDeviceGet(device), 'cuDeviceGet')


def compute_capability(device: int = 0) -> Tuple[int, int]:
    """Return the (major, minor) compute capability of ``device``."""
    drv = driver()
    make_current(device)
    attr = drv.CUdevice_attribute
    handle = _device(device)
    major = check(drv.cuDeviceGetAttribute(
        attr.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, handle), 'cuDeviceGetAttribute')
    minor = check(drv.cuDeviceGetAttribute(
        attr.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, handle), 'cuDeviceGetAttribute')
    return int(major), int(minor)


def device_name(device: int = 0) -> str:
    """Return the marketing name of ``device``, e.g. 'NVIDIA H100 80GB HBM3'."""
    make_current(device)
    raw = check(driver().cuDeviceGetName(256, _device(device)), 'cuDeviceGetName')
    return bytes(raw).split(b'\0', 1)[0].decode(errors='replace')


class DeviceBuffer:
    """Device memory of at least ``nbytes``; :meth:`reserve` grows it (contents are lost)."""

    def __init__(self, nbytes: int = 0, device: int = 0) -> None:
        """Allocate ``nbytes`` (nothing when 0) on ``device``."""
        self.device = device
        self.ptr = 0
        self.nbytes = 0
        self.reserve(nbytes)

    def reserve(self, nbytes: int) -> int:
        """Make the buffer hold at least ``nbytes``; return its address."""
        if nbytes > self.nbytes:
            self.free()
            make_current(self.device)
            self.ptr = int(check(driver().cuMemAlloc(int(nbytes)), f'cuMemAlloc({nbytes})'))
            self.nbytes = int(nbytes)
        return self.ptr

    def free(self) -> None:
        """Release the memory; calling it twice is harmless."""
        if self.ptr:
            make_current(self.device)
            check(driver().cuMemFree(self.ptr), 'cuMemFree')
            self.ptr = 0
            self.nbytes = 0


class PinnedBuffer:
    """Page-locked host memory of at least ``nbytes``, seen from numpy as :attr:`array`."""

    def __init__(self, nbytes: int = 0, device: int = 0) -> None:
        """Allocate ``nbytes`` of pinned memory (nothing when 0)."""
        self.device = device
        self.ptr = 0
        self.nbytes = 0
        self.array: np.ndarray = np.empty(0, np.uint8)
        self.reserve(nbytes)

    def reserve(self, nbytes: int) -> int:
        """Make the buffer hold at least ``nbytes``; return its address."""
        if nbytes > self.nbytes:
            self.free()
            make_current(self.device)
            self.ptr = int(check(driver().cuMemHostAlloc(int(nbytes), 0),
                                 f'cuMemHostAlloc({nbytes})'))
            self.nbytes = int(nbytes)
            self.array = np.ctypeslib.as_array(
                (ctypes.c_uint8 * self.nbytes).from_address(self.ptr))
        return self.ptr

    def view(self, shape: Tuple[int, ...], dtype: Any) -> np.ndarray:
        """Return the start of the buffer as a C-contiguous array of ``shape`` and ``dtype``."""
        dtype = np.dtype(dtype)
        count = int(np.prod(shape)) * dtype.itemsize
        self.reserve(count)
        return self.array[:count].view(dtype).reshape(shape)

    def free(self) -> None:
        """Release the memory; calling it twice is harmless."""
        if self.ptr:
            self.array = np.empty(0, np.uint8)
            make_current(self.device)
            check(driver().cuMemFreeHost(self.ptr), 'cuMemFreeHost')
            self.ptr = 0
            self.nbytes = 0


def stream_handle(stream_ptr: int) -> Any:
    """Return a driver ``CUstream`` for a raw stream address (0 is the legacy default)."""
    return driver().CUstream(int(stream_ptr))


class Stream:
    """A non-blocking CUDA stream; :attr:`ptr` is its address for other libraries."""

    def __init__(self, device: int = 0) -> None:
        """Create the stream on ``device``."""
        self.device = device
        make_current(device)
        drv = driver()
        self.handle = check(drv.cuStreamCreate(drv.CUstream_flags.CU_STREAM_NON_BLOCKING),
                            'cuStreamCreate')
        self.ptr = int(self.handle)

    def synchronize(self) -> None:
        """Wait until everything queued on the stream is done."""
        make_current(self.device)
        check(driver().cuStreamSynchronize(self.handle), 'cuStreamSynchronize')

    def close(self) -> None:
        """Destroy the stream; calling it twice is harmless."""
        if self.ptr:
            make_current(self.device)
            check(driver().cuStreamDestroy(self.handle), 'cuStreamDestroy')
            self.ptr = 0


class Event:
    """A CUDA event; :meth:`elapsed_ms` times between two recorded events."""

    def __init__(self, device: int = 0, timing: bool = True) -> None:
        """Create the event; ``timing=False`` makes a cheaper event for ordering only."""
        self.device = device
        make_current(device)
        drv = driver()
        flags = (drv.CUevent_flags.CU_EVENT_DEFAULT if timing
                 else drv.CUevent_flags.CU_EVENT_DISABLE_TIMING)
        self.handle = check(drv.cuEventCreate(flags), 'cuEventCreate')
        self.recorded = False

    def record(self, stream_ptr: int) -> None:
        """Record the event on a stream given by its address."""
        check(driver().cuEventRecord(self.handle, stream_handle(stream_ptr)), 'cuEventRecord')
        self.recorded = True

    def synchronize(self) -> None:
        """Wait until the recorded work is done (returns at once when never recorded)."""
        if self.recorded:
            check(driver().cuEventSynchronize(self.handle), 'cuEventSynchronize')

    def elapsed_ms(self, end: 'Event') -> float:
        """Return the GPU milliseconds from this event to ``end`` (both done)."""
        end.synchronize()
        return float(check(driver().cuEventElapsedTime(self.handle, end.handle),
                           'cuEventElapsedTime'))

    def close(self) -> None:
        """Destroy the event; calling it twice is harmless."""
        if self.handle is not None:
            make_current(self.device)
            check(driver().cuEventDestroy(self.handle), 'cuEventDestroy')
            self.handle = None


def memcpy_htod_async(dst_ptr: int, src_ptr: int, nbytes: int, stream_ptr: int) -> None:
    """Queue a host-to-device copy (pinned source for a truly asynchronous copy)."""
    check(driver().cuMemcpyHtoDAsync(dst_ptr, src_ptr, nbytes, stream_handle(stream_ptr)),
          'cuMemcpyHtoDAsync')


def memcpy_dtoh_async(dst_ptr: int, src_ptr: int, nbytes: int, stream_ptr: int) -> None:
    """Queue a device-to-host copy (pinned destination for a truly asynchronous copy)."""
    check(driver().cuMemcpyDtoHAsync(dst_ptr, src_ptr, nbytes, stream_handle(stream_ptr)),
          'cuMemcpyDtoHAsync')


class Kernel:
    """A compiled ``__global__`` function taking one structure argument by value."""

    def __init__(self, module: Any, function: Any, name: str, arch: str) -> None:
        """Wrap a loaded module and function; use :func:`compile_kernel` to make one."""
        self.module = module
        self.function = function
        self.name = name
        self.arch = arch

    def launch(self, grid: Tuple[int, int, int], block: Tuple[int, int, int],
               params: ctypes.Structure, stream_ptr: int) -> None:
        """Queue the kernel on the stream at ``stream_ptr`` with ``params`` as its argument."""
        pointers = (ctypes.c_void_p * 1)(ctypes.addressof(params))
        check(driver().cuLaunchKernel(
            self.function, grid[0], grid[1], grid[2], block[0], block[1], block[2], 0,
            stream_handle(stream_ptr), ctypes.addressof(pointers), 0),
            f'cuLaunchKernel({self.name})')


def _nvrtc_compile(source: str, name: str, options: Tuple[str, ...]) -> Tuple[bytes, str]:
    """Compile ``source`` with NVRTC; return (image, kind) with kind 'cubin' or 'ptx'."""
    rtc = nvrtc()
    prog = check(rtc.nvrtcCreateProgram(source.encode(), f'{name}.cu'.encode(), 0, [], []),
                 'nvrtcCreateProgram')
    try:
        opts = [o.encode() for o in options]
        result = rtc.nvrtcCompileProgram(prog, len(opts), opts)
        if int(result[0]) != 0:
            size = check(rtc.nvrtcGetProgramLogSize(prog), 'nvrtcGetProgramLogSize')
            log = b' ' * int(size)
            check(rtc.nvrtcGetProgramLog(prog, log), 'nvrtcGetProgramLog')
            text = ' '.join(log.decode(errors='replace').split())
            raise CudaError(f'NVRTC could not compile {name} with {" ".join(options)}: {text}')
        if any(o.startswith('--gpu-architecture=sm_') for o in options):
            size = check(rtc.nvrtcGetCUBINSize(prog), 'nvrtcGetCUBINSize')
            image = b' ' * int(size)
            check(rtc.nvrtcGetCUBIN(prog, image), 'nvrtcGetCUBIN')
            return image, 'cubin'
        size = check(rtc.nvrtcGetPTXSize(prog), 'nvrtcGetPTXSize')
        image = b' ' * int(size)
        check(rtc.nvrtcGetPTX(prog, image), 'nvrtcGetPTX')
        return image, 'ptx'
    finally:
        check(rtc.nvrtcDestroyProgram(prog), 'nvrtcDestroyProgram')


def compile_kernel(source: str, name: str, device: int = 0) -> Kernel:
    """Compile ``source`` with NVRTC for ``device`` and return its kernel ``name``.

    Compiled once per process for each (source, name, device). Machine code (``sm_XY``) is
    built for the device's compute capability; when this NVRTC does not know that
    architecture, PTX for the newest one it knows is built and the driver compiles it.
    """
    key = (hashlib.sha1(source.encode()).hexdigest(), name, device)
    kernel = _kernels.get(key)
    if kernel is not None:
        return kernel
    # The context is made current before the kernel lock is taken: make_current takes the
    # context lock, and holding one plain lock while taking it again would never return.
    major, minor = compute_capability(device)
    with _kernel_lock:
        kernel = _kernels.get(key)
        if kernel is not None:
            return kernel
        arch = f'sm_{major}{minor}'
        base = ('--std=c++14', '-default-device', '--use_fast_math')
        try:
            image, kind = _nvrtc_compile(source, name, base + (f'--gpu-architecture={arch}',))
        except CudaError:
            supported = check(nvrtc().nvrtcGetSupportedArchs(), 'nvrtcGetSupportedArchs')
            usable = [a for a in supported if a <= major * 10 + minor] or list(supported)
            arch = f'compute_{max(usable)}'
            image, kind = _nvrtc_compile(source, name, base + (f'--gpu-architecture={arch}',))
        make_current(device)
        drv = driver()
        module = check(drv.cuModuleLoadData(image), f'cuModuleLoadData({name}, {kind})')
        function = check(drv.cuModuleGetFunction(module, name.encode()),
                         f'cuModuleGetFunction({name})')
        kernel = Kernel(module, function, name, arch)
        _kernels[key] = kernel
        return kernel
