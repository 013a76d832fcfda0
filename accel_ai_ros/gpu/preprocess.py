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
Fused GPU preprocessing: one upload and one kernel from camera pixels to the engine's input.

The frame goes to the GPU once: it is copied out of the message buffer into a reused pinned
staging buffer, uploaded with one asynchronous host-to-device copy on the caller's stream,
and ONE kernel converts the colour order (rgb, bgr, rgba, bgra, mono, mono16), resizes in the
configured mode (stretch, letterbox, centre crop; the geometry of
:func:`accel_ai_ros.preprocess.plan_resize`), samples bilinearly with cv2.INTER_LINEAR's
half-pixel-centre convention, normalises ``(pixel * scale - mean) / std`` and writes NCHW or
NHWC float32, float16, bfloat16 or uint8 straight into the engine's input buffer.

Like :class:`~accel_ai_ros.preprocess.CpuPreprocessor`, which is the reference, the kernel
rounds each resampled pixel to an integer grey level before the grey conversion (OpenCV's
fixed-point BT.601 weights) and normalisation, so both paths agree within one grey level.
Nothing synchronises: the caller synchronises its stream (or records an event) before reading.
"""

import ctypes
import logging
from typing import Optional
from typing import Tuple

import numpy as np

from accel_ai_ros.errors import BackendUnavailableError
from accel_ai_ros.errors import collapse_whitespace
from accel_ai_ros.errors import PreprocessError
from accel_ai_ros.gpu import cuda
from accel_ai_ros.image_codec import DecodedImage
from accel_ai_ros.preprocess import check_image
from accel_ai_ros.preprocess import plan_resize
from accel_ai_ros.preprocess import PreprocessSpec
from accel_ai_ros.preprocess import ResizePlan
from accel_ai_ros.transform import ImageTransform

_LOG = logging.getLogger(__name__)

#: Output dtypes the kernel writes -> (code in the kernel, bytes per element).
OUT_DTYPES = {'float32': (0, 4), 'float16': (1, 2), 'uint8': (2, 1), 'bfloat16': (3, 2)}

_ORDERS = {'rgb': 3, 'bgr': 3, 'rgba': 4, 'bgra': 4, 'mono': 1}

KERNEL_NAME = 'accel_preprocess'

KERNEL_SOURCE = r"""
struct Params {
    const unsigned char* src;
    void* dst;
    int src_w, src_h, src_pitch, src16;
    int crop_x0, crop_y0, crop_w, crop_h;
    int res_w, res_h, pad_top, pad_left;
    int dst_w, dst_h, out_channels;
    int ch0, ch1, ch2;
    int to_gray, nhwc, out_dtype, src_channels;
    float inv_sx, inv_sy;
    float alpha0, alpha1, alpha2;
    float beta0, beta1, beta2;
    float pad0, pad1, pad2;
};

__device__ __forceinline__ float texel(const Params& p, int x, int y, int c) {
    const unsigned char* row = p.src + (long long)y * p.src_pitch;
    if (p.src16) {
        return (float)((const unsigned short*)row)[x];
    }
    return (float)row[x * p.src_channels + c];
}

__device__ __forceinline__ unsigned short to_half(float v) {
    unsigned short h;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(v));
    return h;
}

__device__ __forceinline__ unsigned short to_bf16(float v) {
    unsigned int u = __float_as_uint(v);
    u += 0x7FFFu + ((u >> 16) & 1u);
    return (unsigned short)(u >> 16);
}

extern "C" __global__ void accel_preprocess(const Params p) {
    const int x = blockIdx.x * blockDim.x + threadIdx.x;
    const int y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= p.dst_w || y >= p.dst_h) return;
    const int rx = x - p.pad_left;
    const int ry = y - p.pad_top;
    float out[3];
    const float alpha[3] = {p.alpha0, p.alpha1, p.alpha2};
    const float beta[3] = {p.beta0, p.beta1, p.beta2};
    if (rx >= 0 && ry >= 0 && rx < p.res_w && ry < p.res_h) {
        // cv2.INTER_LINEAR: half-pixel centres, edge taps clamped with weight 0.
        float fx = ((float)rx + 0.5f) * p.inv_sx - 0.5f;
        int sx = (int)floorf(fx);
        fx -= (float)sx;
        if (sx < 0) { sx = 0; fx = 0.f; }
        if (sx >= p.crop_w - 1) { sx = p.crop_w - 1; fx = 0.f; }
        float fy = ((float)ry + 0.5f) * p.inv_sy - 0.5f;
        int sy = (int)floorf(fy);
        fy -= (float)sy;
        if (sy < 0) { sy = 0; fy = 0.f; }
        if (sy >= p.crop_h - 1) { sy = p.crop_h - 1; fy = 0.f; }
        const int x0 = p.crop_x0 + sx;
        const int x1 = p.crop_x0 + min(sx + 1, p.crop_w - 1);
        const int y0 = p.crop_y0 + sy;
        const int y1 = p.crop_y0 + min(sy + 1, p.crop_h - 1);
        const float w00 = (1.f - fx) * (1.f - fy), w01 = fx * (1.f - fy);
        const float w10 = (1.f - fx) * fy, w11 = fx * fy;
        const float top = p.src16 ? 65535.f : 255.f;
        float v[3];
        const int needed = p.to_gray ? 3 : p.out_channels;
        #pragma unroll
        for (int k = 0; k < 3; ++k) {
            if (k >= needed) break;
            const int c = k == 0 ? p.ch0 : (k == 1 ? p.ch1 : p.ch2);
            const float s = w00 * texel(p, x0, y0, c) + w01 * texel(p, x1, y0, c)
                          + w10 * texel(p, x0, y1, c) + w11 * texel(p, x1, y1, c);
            v[k] = fminf(fmaxf(floorf(s + 0.5f), 0.f), top);  // the resized 8/16-bit pixel
        }
        if (p.to_gray) {  // OpenCV's fixed-point RGB2GRAY on the resized pixels
            const int g = ((int)v[0] * 4899 + (int)v[1] * 9617 + (int)v[2] * 1868 + 8192) >> 14;
            v[0] = (float)g;
        }
        #pragma unroll
        for (int k = 0; k < 3; ++k) {
            if (k < p.out_channels) out[k] = v[k] * alpha[k] + beta[k];
        }
    } else {
        out[0] = p.pad0; out[1] = p.pad1; out[2] = p.pad2;
    }
    const long long plane = (long long)p.dst_w * p.dst_h;
    const long long pixel = (long long)y * p.dst_w + x;
    #pragma unroll
    for (int k = 0; k < 3; ++k) {
        if (k >= p.out_channels) break;
        const long long i = p.nhwc ? pixel * p.out_channels + k : k * plane + pixel;
        const float o = out[k];
        if (p.out_dtype == 0) {
            ((float*)p.dst)[i] = o;
        } else if (p.out_dtype == 1) {
            ((unsigned short*)p.dst)[i] = to_half(o);
        } else if (p.out_dtype == 2) {
            ((unsigned char*)p.dst)[i] = (unsigned char)fminf(fmaxf(floorf(o + 0.5f), 0.f),
                                                              255.f);
        } else {
            ((unsigned short*)p.dst)[i] = to_bf16(o);
        }
    }
}
"""


class _Params(ctypes.Structure):
    """The kernel's ``Params`` structure, field for field."""

    _fields_ = ([('src', ctypes.c_void_p), ('dst', ctypes.c_void_p)]
                + [(name, ctypes.c_int) for name in (
                    'src_w', 'src_h', 'src_pitch', 'src16', 'crop_x0', 'crop_y0', 'crop_w',
                    'crop_h', 'res_w', 'res_h', 'pad_top', 'pad_left', 'dst_w', 'dst_h',
                    'out_channels', 'ch0', 'ch1', 'ch2', 'to_gray', 'nhwc', 'out_dtype',
                    'src_channels')]
                + [(name, ctypes.c_float) for name in (
                    'inv_sx', 'inv_sy', 'alpha0', 'alpha1', 'alpha2', 'beta0', 'beta1',
                    'beta2', 'pad0', 'pad1', 'pad2')])


def preprocess_kernel(device: int = 0) -> cuda.Kernel:
    """Return the fused preprocessing kernel for ``device`` (NVRTC, compiled once)."""
    return cuda.compile_kernel(KERNEL_SOURCE, KERNEL_NAME, device)


class GpuPreprocessor:
    """
    Preprocess :class:`DecodedImage` frames on the GPU into a caller-owned device buffer.

    ``spec`` is the same :class:`PreprocessSpec` the CPU path takes; ``out_dtype`` overrides
    ``spec.dtype`` (e.g. 'float16' or 'bfloat16' for a half-precision engine). Each call
    queues a pinned upload and one kernel on ``stream_ptr`` and returns at once with the
    :class:`ImageTransform`; synchronise the stream before reading ``out_ptr``.
    """

    BLOCK = (32, 8, 1)

    def __init__(self, spec: PreprocessSpec, device: int = 0,
                 out_dtype: Optional[str] = None) -> None:
        """Compile (or fetch) the kernel and precompute the per-channel coefficients."""
        self.spec = spec
        self.device = int(device)
        self.out_dtype = out_dtype or spec.dtype
        if self.out_dtype not in OUT_DTYPES:
            raise PreprocessError(
                f'out_dtype {self.out_dtype!r} is not supported on the GPU; use one of '
                f'{", ".join(OUT_DTYPES)}')
        if self.out_dtype == 'uint8' and spec.dtype != 'uint8':
            raise PreprocessError(
                'out_dtype uint8 needs a spec with dtype uint8 (raw pixels, mean 0, std 1)')
        self._kernel = preprocess_kernel(self.device)
        self._pinned = cuda.PinnedBuffer(0, self.device)
        self._staging = cuda.DeviceBuffer(0, self.device)
        self._uploaded = cuda.Event(self.device, timing=False)
        self._cached: Optional[Tuple[Tuple[int, int, str, str], ResizePlan, _Params]] = None
        channels = spec.channels
        if self.out_dtype == 'uint8':
            self._alpha = [1.0] * channels
            self._beta = [0.0] * channels
            self._pad = [float(spec.pad_value)] * channels
        else:
            self._alpha = [spec.scale / spec.std[c] for c in range(channels)]
            self._beta = [-spec.mean[c] / spec.std[c] for c in range(channels)]
            self._pad = [float(np.float32((spec.pad_value * spec.scale - spec.mean[c])
                                          / spec.std[c])) for c in range(channels)]
        self.closed = False

    @property
    def output_nbytes(self) -> int:
        """Return the size in bytes of the tensor the kernel writes at ``out_ptr``."""
        return int(np.prod(self.spec.output_shape)) * OUT_DTYPES[self.out_dtype][1]

    def plan(self, width: int, height: int) -> ResizePlan:
        """Return the :class:`ResizePlan` for an image size (the CPU path's geometry)."""
        return plan_resize(self.spec, width, height)

    def _params(self, image: DecodedImage, pixels: np.ndarray) -> Tuple[ResizePlan, _Params]:
        """Return the plan and kernel parameters for this image size and order (cached)."""
        height, width = int(pixels.shape[0]), int(pixels.shape[1])
        key = (width, height, image.order, pixels.dtype.str)
        cached = self._cached
        if cached is not None and cached[0] == key:
            return cached[1], cached[2]
        spec = self.spec
        plan = self.plan(width, height)
        x0, y0, x1, y1 = plan.crop
        res_w, res_h = plan.size
        top, _, left, _ = plan.pad
        src_channels = _ORDERS[image.order]
        src16 = pixels.dtype == np.uint16
        p = _Params()
        p.src_w, p.src_h = width, height
        p.src_pitch = width * src_channels * pixels.dtype.itemsize
        p.src16 = int(src16)
        p.src_channels = src_channels
        p.crop_x0, p.crop_y0, p.crop_w, p.crop_h = x0, y0, x1 - x0, y1 - y0
        p.res_w, p.res_h, p.pad_top, p.pad_left = res_w, res_h, top, left
        p.dst_w, p.dst_h, p.out_channels = spec.width, spec.height, spec.channels
        p.inv_sx = (x1 - x0) / res_w
        p.inv_sy = (y1 - y0) / res_h
        order = image.order
        p.to_gray = 0
        if order == 'mono':
            channels = [0, 0, 0]
        elif spec.channel_order == 'mono':
            p.to_gray = 1
            channels = [order.index('r'), order.index('g'), order.index('b')]
        else:
            channels = [order.index(ch) for ch in spec.channel_order]
        p.ch0, p.ch1, p.ch2 = channels
        p.nhwc = int(spec.layout == 'nhwc')
        p.out_dtype = OUT_DTYPES[self.out_dtype][0]
        divisor = 257.0 if src16 else 1.0
        alpha = [a / divisor for a in self._alpha] + [0.0] * (3 - spec.channels)
        beta = self._beta + [0.0] * (3 - spec.channels)
        pad = self._pad + [0.0] * (3 - spec.channels)
        p.alpha0, p.alpha1, p.alpha2 = alpha
        p.beta0, p.beta1, p.beta2 = beta
        p.pad0, p.pad1, p.pad2 = pad
        self._cached = (key, plan, p)
        return plan, p

    @staticmethod
    def _check_image(image: DecodedImage) -> np.ndarray:
        return check_image(image)

    def upload(self, image: DecodedImage, stream_ptr: int) -> Tuple[ResizePlan, _Params]:
        """Copy the frame into pinned memory and queue its upload; return plan and params."""
        if self.closed:
            raise PreprocessError('this GpuPreprocessor is closed; create a new one')
        pixels = self._check_image(image)
        plan, params = self._params(image, pixels)
        cuda.make_current(self.device)
        # The previous frame's upload must be done before its pinned bytes are overwritten.
        self._uploaded.synchronize()
        staged = self._pinned.view(pixels.shape, pixels.dtype)
        np.copyto(staged, pixels)
        nbytes = staged.nbytes
        src = self._staging.reserve(nbytes)
        cuda.memcpy_htod_async(src, self._pinned.ptr, nbytes, stream_ptr)
        self._uploaded.record(stream_ptr)
        params.src = src
        return plan, params

    def stage(self, image: DecodedImage) -> Tuple[ResizePlan, _Params, int]:
        """Copy the frame into pinned memory; return plan, params and its size in bytes.

        Queues nothing: :meth:`queue` does, or a CUDA graph that captured it replays it. The
        caller makes sure the previous upload from the pinned buffer is done (a synchronised
        stream) before staging the next frame.
        """
        if self.closed:
            raise PreprocessError('this GpuPreprocessor is closed; create a new one')
        pixels = self._check_image(image)
        plan, params = self._params(image, pixels)
        staged = self._pinned.view(pixels.shape, pixels.dtype)
        np.copyto(staged, pixels)
        params.src = self._staging.reserve(staged.nbytes)
        return plan, params, int(staged.nbytes)

    def queue(self, params: _Params, nbytes: int, out_ptr: int, stream_ptr: int) -> None:
        """Queue the staged frame's upload and the kernel on a stream (capturable)."""
        cuda.memcpy_htod_async(params.src, self._pinned.ptr, nbytes, stream_ptr)
        self.launch(params, out_ptr, stream_ptr)

    def frame_key(self, params: _Params) -> Tuple[int, ...]:
        """Return what a captured upload and kernel depend on: buffers and kernel arguments."""
        names = [field[0] for field in params._fields_[2:]]
        return (id(self), self._pinned.ptr, int(params.src or 0)) + tuple(
            getattr(params, name) for name in names)

    def launch(self, params: _Params, out_ptr: int, stream_ptr: int) -> None:
        """Queue the fused kernel that reads the uploaded frame and writes ``out_ptr``."""
        params.dst = int(out_ptr)
        bx, by, _ = self.BLOCK
        grid = ((self.spec.width + bx - 1) // bx, (self.spec.height + by - 1) // by, 1)
        self._kernel.launch(grid, self.BLOCK, params, stream_ptr)

    def __call__(self, image: DecodedImage, out_ptr: int, stream_ptr: int) -> ImageTransform:
        """Upload ``image`` and queue the kernel writing ``out_ptr``; return its transform.

        ``out_ptr`` is a device address of :attr:`output_nbytes` bytes laid out as
        ``spec.output_shape`` in ``out_dtype``; ``stream_ptr`` a CUDA stream address (0: the
        legacy default stream). Nothing is synchronised.
        """
        if not out_ptr:
            raise PreprocessError('out_ptr is 0; pass the device address of the input buffer')
        plan, params = self.upload(image, stream_ptr)
        self.launch(params, out_ptr, stream_ptr)
        return plan.transform

    def close(self) -> None:
        """Wait for the last upload and free the staging buffers; calling it twice is harmless."""
        if self.closed:
            return
        self.closed = True
        self._uploaded.synchronize()
        self._uploaded.close()
        self._pinned.free()
        self._staging.free()

    def __enter__(self) -> 'GpuPreprocessor':
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class GpuInput:
    """
    The fused preprocessor a GPU runner keeps: the one helper of every GPU backend.

    :meth:`get` builds a :class:`GpuPreprocessor` on first use, on the calling thread, and
    builds it again when the spec or the output dtype changes; once building failed because
    GPU preprocessing cannot work here (cuda-python or NVRTC missing, no device), it logs
    why once and returns None from then on, and the runner preprocesses on the CPU.
    :meth:`close` frees it (the runner's deactivation).
    """

    def __init__(self, device: int, owner: str) -> None:
        """Keep nothing yet: ``owner`` names the runner in the log line."""
        self.device = int(device)
        self.owner = owner
        self.unavailable = ''
        self._pre: Optional[GpuPreprocessor] = None

    def get(self, spec: PreprocessSpec,
            out_dtype: Optional[str] = None) -> Optional[GpuPreprocessor]:
        """Return the preprocessor for ``spec`` and ``out_dtype``, or None (CPU fallback)."""
        if self.unavailable:
            return None
        pre = self._pre
        if pre is not None and pre.spec == spec and pre.out_dtype == (out_dtype or spec.dtype):
            return pre
        self.close()
        try:
            self._pre = GpuPreprocessor(spec, device=self.device, out_dtype=out_dtype)
        except (cuda.CudaError, BackendUnavailableError) as error:
            self.unavailable = collapse_whitespace(error)
            _LOG.info('%s: preprocessing on the CPU (GPU preprocessing unavailable: %s)',
                      self.owner, self.unavailable)
            return None
        return self._pre

    @property
    def current(self) -> Optional[GpuPreprocessor]:
        """Return the preprocessor built last (None before the first frame or after close)."""
        return self._pre

    def close(self) -> None:
        """Free the preprocessor; calling it twice is harmless."""
        if self._pre is not None:
            pre, self._pre = self._pre, None
            pre.close()
