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

"""GpuPreprocessor against the CPU reference, CpuPreprocessor, on real or synthetic images.

Every resize mode, both layouts, every image order (rgb, bgr, rgba, bgra, mono, mono16) and
every output dtype must agree with the CPU path within one grey level after normalisation
(``|gpu - cpu| <= scale / std`` per channel). Needs cuda-python and a CUDA device; skips
with the reason otherwise.
"""

from typing import Any
from typing import Dict
from typing import Tuple

import cv2
import numpy as np
import pytest

from accel_ai_ros.image_codec import DecodedImage
from accel_ai_ros.preprocess import CpuPreprocessor
from accel_ai_ros.preprocess import PreprocessSpec

_images: Dict[Tuple[int, int], np.ndarray] = {}


@pytest.fixture(scope='module')
def cuda() -> Any:
    """Return accel_ai_ros.gpu.cuda when a CUDA device works, else skip with the reason."""
    from accel_ai_ros.gpu import cuda as module
    problem = module.is_available(0)
    if problem:
        pytest.skip(problem)
    return module


def photo(width: int, height: int) -> np.ndarray:
    """Return a bgr8 test photo: scikit-image's astronaut when installed, else synthetic."""
    key = (width, height)
    if key not in _images:
        try:
            from skimage import data
            base = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
        except ImportError:
            yy, xx = np.mgrid[0:512, 0:512].astype(np.float32)
            rng = np.random.default_rng(1)
            base = np.stack([128 + 100 * np.sin(xx / 17.0 + c) * np.cos(yy / 23.0 - c)
                             for c in range(3)], axis=-1)
            base += rng.normal(0, 20, base.shape)
            base = np.clip(base, 0, 255).astype(np.uint8)
        _images[key] = cv2.resize(base, (width, height), interpolation=cv2.INTER_AREA)
    return _images[key]


def as_order(bgr: np.ndarray, order: str) -> DecodedImage:
    """Return the photo in ``order`` ('mono16' gives a uint16 mono image)."""
    if order == 'mono16':
        mono = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY).astype(np.uint16) * 257
        return DecodedImage(mono + (np.arange(mono.shape[1]) % 200).astype(np.uint16), 'mono')
    codes = {'bgr': None, 'rgb': cv2.COLOR_BGR2RGB, 'bgra': cv2.COLOR_BGR2BGRA,
             'rgba': cv2.COLOR_BGR2RGBA, 'mono': cv2.COLOR_BGR2GRAY}
    code = codes[order]
    return DecodedImage(bgr if code is None else cv2.cvtColor(bgr, code), order)


def run_gpu(cuda: Any, spec: PreprocessSpec, image: DecodedImage,
            out_dtype: Any = None) -> Tuple[np.ndarray, Any]:
    """Preprocess on the GPU into a device buffer and copy the tensor back."""
    from accel_ai_ros.gpu.preprocess import GpuPreprocessor
    with GpuPreprocessor(spec, out_dtype=out_dtype) as pre:
        out = cuda.DeviceBuffer(pre.output_nbytes)
        stream = cuda.Stream()
        try:
            transform = pre(image, out.ptr, stream.ptr)
            host = np.empty(spec.output_shape, np.uint16 if pre.out_dtype == 'bfloat16'
                            else spec.dtype)
            stream.synchronize()
            cuda.check(cuda.driver().cuMemcpyDtoH(host.ctypes.data, out.ptr, host.nbytes),
                       'cuMemcpyDtoH')
        finally:
            stream.close()
            out.free()
    if pre.out_dtype == 'bfloat16':
        host = (host.astype(np.uint32) << 16).view(np.float32)
    return host, transform


def assert_close(spec: PreprocessSpec, gpu: np.ndarray, cpu: np.ndarray) -> None:
    """Assert |gpu - cpu| <= one grey level per channel (plus the dtype's rounding)."""
    axis = 1 if spec.layout == 'nchw' else 3
    shape = [1, 1, 1, 1]
    shape[axis] = spec.channels
    if spec.dtype == 'uint8':
        level = np.ones(shape)
    else:
        level = (spec.scale / np.asarray(spec.std)).reshape(shape)
    slack = {'float32': 1e-5, 'float16': 2e-3, 'uint8': 0.0}[spec.dtype]
    diff = np.abs(gpu.astype(np.float64) - cpu.astype(np.float64))
    bound = level * (1 + 1e-4) + slack * (1 + np.abs(cpu.astype(np.float64)))
    worst = float((diff / bound).max())
    assert worst <= 1.0, f'worst difference is {worst:.3f} grey levels'


@pytest.mark.parametrize('mode', ['stretch', 'letterbox', 'center_crop'])
@pytest.mark.parametrize('layout', ['nchw', 'nhwc'])
@pytest.mark.parametrize('size', [(1920, 1080), (641, 479), (100, 75)])
def test_modes_layouts_sizes(cuda: Any, mode: str, layout: str, size: Tuple[int, int]) -> None:
    """Down- and upscaling in every mode and layout match the CPU path, ImageNet norm."""
    spec = PreprocessSpec(320, 256, resize_mode=mode, channel_order='rgb', layout=layout,
                          mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))
    image = as_order(photo(*size), 'bgr')
    gpu, transform = run_gpu(cuda, spec, image)
    cpu, cpu_transform = CpuPreprocessor(spec)(image)
    assert transform == cpu_transform
    assert_close(spec, gpu, cpu)


@pytest.mark.parametrize('order', ['rgb', 'bgr', 'rgba', 'bgra', 'mono', 'mono16'])
@pytest.mark.parametrize('model_order', ['rgb', 'bgr', 'mono'])
@pytest.mark.parametrize('dtype', ['float32', 'float16', 'uint8'])
def test_orders_and_dtypes(cuda: Any, order: str, model_order: str, dtype: str) -> None:
    """Every image order into every model order and dtype matches the CPU path."""
    kwargs: Dict[str, Any] = {}
    if dtype == 'uint8':
        kwargs = {'mean': (0.0,), 'std': (1.0,)}
    for layout in ('nchw', 'nhwc'):
        spec = PreprocessSpec(224, 224, resize_mode='letterbox', channel_order=model_order,
                              layout=layout, dtype=dtype, **kwargs)
        image = as_order(photo(640, 480), order)
        gpu, _ = run_gpu(cuda, spec, image)
        cpu, _ = CpuPreprocessor(spec)(image)
        assert_close(spec, gpu, cpu)


def test_bfloat16_strided_and_growing(cuda: Any) -> None:
    """bfloat16 output, a row-padded view, and a larger frame after a smaller one."""
    from accel_ai_ros.gpu.preprocess import GpuPreprocessor
    spec = PreprocessSpec(128, 128)
    padded = np.zeros((300, 420, 3), np.uint8)
    padded[:, :400] = photo(400, 300)
    image = DecodedImage(padded[:, :400], 'bgr')  # rows of 1260 bytes, 1200 used
    cpu, _ = CpuPreprocessor(spec)(image)
    bf16, _ = run_gpu(cuda, spec, image, out_dtype='bfloat16')
    np.testing.assert_allclose(bf16, cpu, rtol=1e-2, atol=1.01 / 255.0)  # 1 level + bf16
    with GpuPreprocessor(spec) as pre:
        out = cuda.DeviceBuffer(pre.output_nbytes)
        host = np.empty(spec.output_shape, np.float32)
        for frame in (photo(100, 75), photo(1920, 1080), photo(640, 480)):
            pre(DecodedImage(frame, 'bgr'), out.ptr, 0)
            cuda.check(cuda.driver().cuMemcpyDtoH(host.ctypes.data, out.ptr, host.nbytes),
                       'cuMemcpyDtoH')
            assert_close(spec, host, CpuPreprocessor(spec)(DecodedImage(frame, 'bgr'))[0])
        out.free()
