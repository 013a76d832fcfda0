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
CPU preprocessing: a decoded camera image becomes one model-input tensor.

The per-frame path stays in OpenCV's vectorised routines and touches the full-size image
once: crop (a view, centre-crop only), ``cv2.resize`` on the 8-bit pixels with
``cv2.INTER_LINEAR`` for every mode and every factor (half-pixel centres, so the returned
:class:`ImageTransform` maps coordinates exactly), letterbox padding (whole pad rows are
filled in the output directly, pad columns take ``cv2.copyMakeBorder``), then one pass
that reorders channels and applies ``out = (pixel * scale - mean[c]) / std[c]`` while
converting to the engine's dtype (``cv2.addWeighted`` per plane for NCHW, a per-channel
``cv2.LUT`` for NHWC).

The geometry alone is available as :func:`plan_resize`, so a GPU preprocessor can reuse it.
"""

from dataclasses import dataclass
import math
from typing import Any
from typing import List
from typing import Optional
from typing import Sequence
from typing import Tuple

import cv2
import numpy as np

from accel_ai_ros.errors import PreprocessError
from accel_ai_ros.image_codec import DecodedImage
from accel_ai_ros.param_spec import ParamSpec
from accel_ai_ros.transform import ImageTransform

RESIZE_MODES: Tuple[str, ...] = ('stretch', 'letterbox', 'center_crop')
CHANNEL_ORDERS: Tuple[str, ...] = ('rgb', 'bgr', 'mono')
LAYOUTS: Tuple[str, ...] = ('nchw', 'nhwc')
DTYPES: Tuple[str, ...] = ('float32', 'float16', 'uint8')
INTERPOLATION: int = cv2.INTER_LINEAR

RESIZE_MODE = ParamSpec('resize_mode', 'letterbox', 'How the frame is fitted to the model input.',
                        read_only=True, choices=RESIZE_MODES)
CHANNEL_ORDER = ParamSpec('channel_order', 'rgb', 'Channel order the model expects (mono for '
                          'one channel).', read_only=True, choices=CHANNEL_ORDERS)
TENSOR_LAYOUT = ParamSpec('tensor_layout', 'auto', 'Input tensor layout; auto reads it from '
                          'the input shape.', read_only=True, choices=('auto',) + LAYOUTS)
SCALE = ParamSpec('scale', 1.0 / 255.0, 'Pixel multiplier before mean and std: '
                  'value = (pixel * scale - mean) / std.', read_only=True, min_value=-1e6,
                  max_value=1e6)
MEAN = ParamSpec('mean', [0.0, 0.0, 0.0], 'Per-channel mean subtracted after scaling (1 or 3 '
                 'values).', read_only=True, length=(1, 3))
STD = ParamSpec('std', [1.0, 1.0, 1.0], 'Per-channel divisor after the mean (1 or 3 values, '
                'none 0).', read_only=True, length=(1, 3))
PAD_VALUE = ParamSpec('pad_value', 114, 'Grey level of the letterbox padding.', read_only=True,
                      min_value=0, max_value=255)
#: The preprocessing parameters of the node (gathered by :mod:`accel_ai_ros.params`).
PARAMETERS: Tuple[ParamSpec, ...] = (RESIZE_MODE, CHANNEL_ORDER, TENSOR_LAYOUT, SCALE, MEAN, STD,
                                     PAD_VALUE)

_IMAGE_ORDERS: Tuple[str, ...] = ('rgb', 'bgr', 'rgba', 'bgra', 'mono')
_CV_DEPTH = {'float32': cv2.CV_32F, 'float16': cv2.CV_16F}

# (image order, model order) -> cv2.cvtColor code; None means the order already matches.
_CVT = {
    ('rgb', 'rgb'): None, ('rgb', 'bgr'): cv2.COLOR_RGB2BGR, ('rgb', 'mono'): cv2.COLOR_RGB2GRAY,
    ('bgr', 'rgb'): cv2.COLOR_BGR2RGB, ('bgr', 'bgr'): None, ('bgr', 'mono'): cv2.COLOR_BGR2GRAY,
    ('rgba', 'rgb'): cv2.COLOR_RGBA2RGB, ('rgba', 'bgr'): cv2.COLOR_RGBA2BGR,
    ('rgba', 'mono'): cv2.COLOR_RGBA2GRAY,
    ('bgra', 'rgb'): cv2.COLOR_BGRA2RGB, ('bgra', 'bgr'): cv2.COLOR_BGRA2BGR,
    ('bgra', 'mono'): cv2.COLOR_BGRA2GRAY,
    ('mono', 'rgb'): cv2.COLOR_GRAY2RGB, ('mono', 'bgr'): cv2.COLOR_GRAY2BGR,
    ('mono', 'mono'): None,
}


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _per_channel(name: str, values: Any, channels: int) -> Tuple[float, ...]:
    """Return ``values`` as ``channels`` finite floats: length 1 broadcasts."""
    try:
        vals = tuple(float(v) for v in np.atleast_1d(np.asarray(values, dtype=np.float64)))
    except (TypeError, ValueError):
        raise PreprocessError(f'{name} must be a list of numbers, got {values!r}') from None
    if not all(math.isfinite(v) for v in vals):
        raise PreprocessError(f'{name} must be finite numbers, got {values!r}')
    if len(vals) == 1:
        return vals * channels
    if len(vals) == channels:
        return vals
    if channels == 1 and len(set(vals)) == 1:
        return vals[:1]
    raise PreprocessError(
        f'{name} has {len(vals)} values but the model takes {channels} channel(s); give '
        f'{channels} value(s), or one value for all channels')


@dataclass(frozen=True)
class PreprocessSpec:
    """
    What the model wants: input size, resize mode, channel order, normalisation, layout.

    ``out = (pixel * scale - mean[c]) / std[c]`` in the model's channel order; a mono16
    pixel enters as ``value / 257``. A ``uint8`` dtype takes raw pixels: ``scale`` is
    ignored and ``mean``/``std`` must stay 0 and 1. ``mean``/``std`` of length 1 broadcast.
    """

    height: int
    width: int
    resize_mode: str = RESIZE_MODE.default
    channel_order: str = CHANNEL_ORDER.default
    scale: float = SCALE.default
    mean: Tuple[float, ...] = tuple(MEAN.default)
    std: Tuple[float, ...] = tuple(STD.default)
    layout: str = 'nchw'
    dtype: str = 'float32'
    pad_value: int = PAD_VALUE.default

    def __post_init__(self) -> None:
        """Validate every field, naming the allowed values; normalise mean and std."""
        for name in ('height', 'width'):
            value = getattr(self, name)
            if not _is_int(value) or value < 1:
                raise PreprocessError(f'{name} must be a positive integer, got {value!r}')
            object.__setattr__(self, name, int(value))
        choices = (('resize_mode', RESIZE_MODES), ('channel_order', CHANNEL_ORDERS),
                   ('layout', LAYOUTS), ('dtype', DTYPES))
        for name, allowed in choices:
            if getattr(self, name) not in allowed:
                raise PreprocessError(
                    f'{name} {getattr(self, name)!r} is not supported; use one of '
                    f'{", ".join(allowed)}')
        try:
            scale = float(self.scale)
        except (TypeError, ValueError):
            scale = float('nan')
        if not (math.isfinite(scale) and scale != 0.0):
            raise PreprocessError(
                f'scale must be a finite non-zero number (1/255 maps 8-bit pixels to [0, 1]), '
                f'got {self.scale!r}')
        object.__setattr__(self, 'scale', scale)
        mean = _per_channel('mean', self.mean, self.channels)
        std = _per_channel('std', self.std, self.channels)
        if any(s == 0.0 for s in std):
            raise PreprocessError(f'std must not contain 0, got {self.std!r}')
        if self.dtype == 'uint8' and (any(mean) or any(s != 1.0 for s in std)):
            raise PreprocessError(
                'a uint8 model input takes raw pixels, so mean and std cannot be applied; '
                'set mean to 0 and std to 1 (the model normalises itself), or use a float '
                'model input')
        object.__setattr__(self, 'mean', mean)
        object.__setattr__(self, 'std', std)
        if not _is_int(self.pad_value) or not 0 <= self.pad_value <= 255:
            raise PreprocessError(
                f'pad_value must be an integer grey level 0..255, got {self.pad_value!r}')
        object.__setattr__(self, 'pad_value', int(self.pad_value))

    @property
    def channels(self) -> int:
        """Return the model's channel count: 1 for mono, else 3."""
        return 1 if self.channel_order == 'mono' else 3

    @property
    def output_shape(self) -> Tuple[int, int, int, int]:
        """Return the tensor shape: ``(1, C, H, W)`` or ``(1, H, W, C)``."""
        if self.layout == 'nchw':
            return (1, self.channels, self.height, self.width)
        return (1, self.height, self.width, self.channels)


def _dim(value: Any) -> Optional[int]:
    """Return a static dimension as int, or None when it is dynamic (None, name, -1)."""
    if _is_int(value) and value > 0:
        return int(value)
    return None


def spec_from_tensor(shape: Sequence[Any], dtype: Any, *,
                     resize_mode: str = RESIZE_MODE.default,
                     channel_order: str = CHANNEL_ORDER.default,
                     scale: float = SCALE.default,
                     mean: Sequence[float] = tuple(MEAN.default),
                     std: Sequence[float] = tuple(STD.default),
                     layout: str = TENSOR_LAYOUT.default,
                     pad_value: int = PAD_VALUE.default,
                     fallback_size: Optional[Tuple[int, int]] = None) -> PreprocessSpec:
    """
    Build a :class:`PreprocessSpec` from an engine input's shape and dtype.

    ``layout='auto'`` reads NCHW when dimension 1 is 1 or 3, else NHWC when the last
    dimension is 1 or 3. Dynamic height or width (None, a name, -1) is taken from
    ``fallback_size=(height, width)``. A single-channel model forces ``channel_order='mono'``.
    """
    dims = tuple(shape)
    if len(dims) != 4:
        raise PreprocessError(
            f'image input shape {dims} is not 4-D; an image model takes (N, C, H, W) or '
            f'(N, H, W, C)')
    batch = _dim(dims[0])
    if batch is not None and batch != 1:
        raise PreprocessError(
            f'input shape {dims} has batch {batch}; one frame is fed at a time, so export the '
            f'model with batch 1 or a dynamic batch')
    if layout == 'auto':
        if _dim(dims[1]) in (1, 3):
            layout = 'nchw'
        elif _dim(dims[3]) in (1, 3):
            layout = 'nhwc'
        else:
            raise PreprocessError(
                f'cannot tell the layout of input shape {dims}: neither dimension 1 nor the '
                f'last is 1 or 3 channels; set the layout to nchw or nhwc')
    elif layout not in LAYOUTS:
        raise PreprocessError(f'layout {layout!r} is not supported; use auto, nchw or nhwc')
    c_dim, h_dim, w_dim = (dims[1], dims[2], dims[3]) if layout == 'nchw' else (
        dims[3], dims[1], dims[2])
    channels = _dim(c_dim)
    if channels is None:
        channels = 1 if channel_order == 'mono' else 3
    if channels not in (1, 3):
        raise PreprocessError(
            f'input shape {dims} ({layout}) has {channels} channels; only 1 (mono) or 3 '
            f'(rgb/bgr) channel images are supported')
    if channels == 1:
        channel_order = 'mono'
    elif channel_order == 'mono':
        raise PreprocessError(
            f'input shape {dims} takes 3 channels but channel_order is mono; set '
            f'channel_order to rgb or bgr')
    height, width = _dim(h_dim), _dim(w_dim)
    if height is None or width is None:
        if fallback_size is None:
            raise PreprocessError(
                f'input shape {dims} has a dynamic height or width; set the input_width and '
                f'input_height parameters to the size to feed it (fallback_size=(height, '
                f'width) when calling spec_from_tensor)')
        fallback = tuple(fallback_size)
        if len(fallback) != 2 or not all(_is_int(v) and v > 0 for v in fallback):
            raise PreprocessError(
                f'fallback_size must be (height, width) positive integers, got '
                f'{fallback_size!r}')
        height = height if height is not None else int(fallback[0])
        width = width if width is not None else int(fallback[1])
    try:
        dtype_name = np.dtype(dtype).name
    except TypeError:
        dtype_name = str(dtype)
    if dtype_name not in DTYPES:
        raise PreprocessError(
            f'the model input dtype {dtype_name} is not supported; preprocessing writes '
            f'{", ".join(DTYPES)}')
    return PreprocessSpec(height=height, width=width, resize_mode=resize_mode,
                          channel_order=channel_order, scale=scale,
                          mean=tuple(np.atleast_1d(mean)), std=tuple(np.atleast_1d(std)),
                          layout=layout, dtype=dtype_name, pad_value=pad_value)


@dataclass(frozen=True)
class ResizePlan:
    """
    The geometry for one image size: crop box, resized size, padding and transform.

    The image is cropped to ``crop`` (x0, y0, x1, y1), resized to ``size`` (width, height)
    and padded by ``pad`` (top, bottom, left, right) to the model size.
    """

    crop: Tuple[int, int, int, int]
    size: Tuple[int, int]
    pad: Tuple[int, int, int, int]
    transform: ImageTransform


def plan_resize(spec: PreprocessSpec, width: int, height: int) -> ResizePlan:
    """Return how an image of ``width`` x ``height`` becomes the model's input size."""
    if width < 1 or height < 1:
        raise PreprocessError(f'the image is empty ({width}x{height}); check the camera')
    tw, th = spec.width, spec.height
    if spec.resize_mode == 'stretch':
        sx, sy = tw / width, th / height
        return ResizePlan((0, 0, width, height), (tw, th), (0, 0, 0, 0),
                          ImageTransform(sx, sy, 0.0, 0.0, width, height))
    if spec.resize_mode == 'letterbox':
        s = min(tw / width, th / height)
        nw = min(tw, max(1, int(round(width * s))))
        nh = min(th, max(1, int(round(height * s))))
        left, top = (tw - nw) // 2, (th - nh) // 2
        pad = (top, th - nh - top, left, tw - nw - left)
        return ResizePlan((0, 0, width, height), (nw, nh), pad,
                          ImageTransform(nw / width, nh / height, float(left), float(top),
                                         width, height))
    # centre crop: scale so the image covers the target, keep the source's centre region
    s = max(tw / width, th / height)
    cw = min(width, max(1, int(round(tw / s))))
    ch = min(height, max(1, int(round(th / s))))
    x0, y0 = (width - cw) // 2, (height - ch) // 2
    sx, sy = tw / cw, th / ch
    return ResizePlan((x0, y0, x0 + cw, y0 + ch), (tw, th), (0, 0, 0, 0),
                      ImageTransform(sx, sy, -x0 * sx, -y0 * sy, width, height))


def _store(result: np.ndarray, dst: np.ndarray) -> None:
    """Copy ``result`` into ``dst`` unless OpenCV already wrote it there."""
    if result is not dst and not np.shares_memory(result, dst):
        np.copyto(dst, result.reshape(dst.shape), casting='same_kind')


def check_image(image: DecodedImage) -> np.ndarray:
    """Return ``image.pixels`` after checking they match the image's channel order and dtype.

    Shared by the CPU and GPU preprocessors; raises PreprocessError naming the problem.
    """
    pixels = image.pixels
    if image.order not in _IMAGE_ORDERS:
        raise PreprocessError(
            f'image order {image.order!r} is unknown; decode it to one of '
            f'{", ".join(_IMAGE_ORDERS)}')
    want = {'rgb': 3, 'bgr': 3, 'rgba': 4, 'bgra': 4, 'mono': 1}[image.order]
    got = 1 if pixels.ndim == 2 else (pixels.shape[2] if pixels.ndim == 3 else -1)
    if got != want:
        raise PreprocessError(
            f'image pixels of shape {pixels.shape} do not match order {image.order!r} '
            f'({want} channel(s)); decode the image with accel_ai_ros.image_codec')
    if pixels.dtype != np.uint8 and not (pixels.dtype == np.uint16 and want == 1):
        raise PreprocessError(
            f'image pixels are {pixels.dtype} {image.order}; only uint8 images and uint16 '
            f'mono images are supported')
    if pixels.shape[0] < 1 or pixels.shape[1] < 1:
        raise PreprocessError(f'the image is empty ({pixels.shape}); check the camera')
    return pixels


class CpuPreprocessor:
    """
    Turns :class:`DecodedImage` frames into model-input tensors on the CPU.

    Keeps the last image size's :class:`ResizePlan` and its lookup tables, so a steady
    camera stream plans once.
    """

    def __init__(self, spec: PreprocessSpec) -> None:
        """Prepare per-channel coefficients and lookup tables for ``spec``."""
        self.spec = spec
        # (width, height) and its plan in one attribute, so a reader never sees a torn pair
        self._cached: Optional[Tuple[Tuple[int, int], ResizePlan]] = None
        c = spec.channels
        # out = pixel * alpha[c] + beta[c]
        self._alpha = [spec.scale / spec.std[i] for i in range(c)]
        self._beta = [-spec.mean[i] / spec.std[i] for i in range(c)]
        self._lut: Optional[np.ndarray] = None
        self._lut_out: Optional[np.ndarray] = None
        if spec.dtype != 'uint8':
            levels = np.arange(256, dtype=np.float64)[:, None]
            table = (levels * spec.scale - np.asarray(spec.mean)) / np.asarray(spec.std)
            self._lut = np.ascontiguousarray(table.astype(np.float32).reshape(1, 256, c))
            self._lut_out = self._lut.astype(spec.dtype)

    def plan(self, width: int, height: int) -> ResizePlan:
        """Return the (cached) :class:`ResizePlan` for an image size."""
        cached = self._cached
        if cached is not None and cached[0] == (width, height):
            return cached[1]
        plan = plan_resize(self.spec, width, height)
        self._cached = ((width, height), plan)
        return plan

    def __call__(self, image: DecodedImage,
                 out: Optional[np.ndarray] = None) -> Tuple[np.ndarray, ImageTransform]:
        """Return the model-input tensor (``out`` when given) and its :class:`ImageTransform`."""
        spec = self.spec
        pixels = self._check_image(image)
        out = self._check_out(out)
        plan = self.plan(int(pixels.shape[1]), int(pixels.shape[0]))
        x0, y0, x1, y1 = plan.crop
        if (x0, y0, x1, y1) != (0, 0, pixels.shape[1], pixels.shape[0]):
            pixels = pixels[y0:y1, x0:x1]
        if plan.size != (pixels.shape[1], pixels.shape[0]):
            pixels = cv2.resize(pixels, plan.size, interpolation=INTERPOLATION)
        sixteen = pixels.dtype == np.uint16
        top, bottom, left, right = plan.pad
        target = out
        if (top or bottom) and not (left or right) and spec.dtype != 'uint8':
            # whole pad rows: fill them, and normalise only the image band between them
            target = self._fill_pad_rows(out, top, bottom)
        elif any(plan.pad):
            level = spec.pad_value * 257 if sixteen else spec.pad_value
            nch = 1 if pixels.ndim == 2 else pixels.shape[2]
            pixels = cv2.copyMakeBorder(pixels, *plan.pad, cv2.BORDER_CONSTANT,
                                        value=(level,) * max(nch, 1) + (0,) * (4 - nch))
        if pixels.ndim == 3 and pixels.shape[2] == 1:
            pixels = pixels[:, :, 0]
        if sixteen and spec.dtype == 'uint8':
            pixels = cv2.convertScaleAbs(pixels, alpha=1.0 / 257.0)
            sixteen = False
        if spec.dtype == 'uint8':
            self._write_raw(pixels, image.order, target)
        elif spec.layout == 'nchw' or spec.channels == 1 or sixteen:
            self._write_planes(self._planes(pixels, image.order), 257.0 if sixteen else 1.0,
                               target)
        else:
            hwc = self._to_order(pixels, image.order)
            assert self._lut is not None and self._lut_out is not None
            try:
                result = cv2.LUT(hwc, self._lut_out, dst=target[0])
            except cv2.error:  # an OpenCV without float16 LUT: go through float32
                result = cv2.LUT(hwc, self._lut)
            _store(result, target[0])
        return out, plan.transform

    def _fill_pad_rows(self, out: np.ndarray, top: int, bottom: int) -> np.ndarray:
        """Fill ``top`` and ``bottom`` rows with the normalised pad; return the band between."""
        spec = self.spec
        assert self._lut is not None
        values = self._lut[0, spec.pad_value]  # the pad grey level, normalised per channel
        end = spec.height - bottom
        if spec.layout == 'nchw':
            for c in range(spec.channels):
                out[0, c, :top].fill(values[c])
                out[0, c, end:].fill(values[c])
            return out[:, :, top:end]
        out[0, :top] = values
        out[0, end:] = values
        return out[:, top:end]

    # -- helpers -----------------------------------------------------------------------
    def _check_image(self, image: DecodedImage) -> np.ndarray:
        return check_image(image)

    def _check_out(self, out: Optional[np.ndarray]) -> np.ndarray:
        spec = self.spec
        if out is None:
            return np.empty(spec.output_shape, dtype=spec.dtype)
        if (not isinstance(out, np.ndarray) or out.shape != spec.output_shape
                or out.dtype != np.dtype(spec.dtype) or not out.flags['C_CONTIGUOUS']
                or not out.flags['WRITEABLE']):
            raise PreprocessError(
                f'the output buffer must be a writeable C-contiguous {spec.dtype} array of '
                f'shape {spec.output_shape}; allocate it with '
                f'np.empty(spec.output_shape, spec.dtype)')
        return out

    def _to_order(self, pixels: np.ndarray, order: str) -> np.ndarray:
        """Return HWC (or HW for mono) pixels in the model's channel order."""
        code = _CVT[(order, self.spec.channel_order)]
        return pixels if code is None else cv2.cvtColor(pixels, code)

    def _planes(self, pixels: np.ndarray, order: str) -> List[np.ndarray]:
        """Return one HW plane per model channel, in model order, without merging."""
        target = self.spec.channel_order
        if target == 'mono':
            return [self._to_order(pixels, order)]
        if order == 'mono':
            return [pixels] * 3
        split = cv2.split(pixels)
        return [split[order.index(ch)] for ch in target]

    def _write_planes(self, planes: List[np.ndarray], divisor: float, out: np.ndarray) -> None:
        """Write ``plane * alpha + beta`` for each channel into ``out``."""
        spec = self.spec
        depth = _CV_DEPTH[spec.dtype]
        nhwc3 = spec.layout == 'nhwc' and spec.channels == 3
        results = []
        for c, plane in enumerate(planes):
            if spec.layout == 'nchw':
                dst = out[0, c]
            elif nhwc3:
                dst = np.empty(plane.shape, dtype=out.dtype)
            else:
                dst = out[0, :, :, 0]
            alpha, beta = self._alpha[c] / divisor, self._beta[c]
            try:
                result = cv2.addWeighted(plane, alpha, plane, 0.0, beta, dst=dst, dtype=depth)
            except cv2.error:  # an OpenCV without float16 arithmetic: go through float32
                result = cv2.addWeighted(plane, alpha, plane, 0.0, beta, dtype=cv2.CV_32F)
            _store(result, dst)
            results.append(dst)
        if nhwc3:
            _store(cv2.merge(results), out[0])

    def _write_raw(self, pixels: np.ndarray, order: str, out: np.ndarray) -> None:
        """Copy uint8 pixels in the model's order and layout into ``out``."""
        if self.spec.layout == 'nchw':
            for c, plane in enumerate(self._planes(pixels, order)):
                np.copyto(out[0, c], plane)
        else:
            hwc = self._to_order(pixels, order)
            np.copyto(out[0], hwc.reshape(out.shape[1:]))
