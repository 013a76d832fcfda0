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

"""Tests of CPU preprocessing against hand-computed values and a slow numpy reference."""

from pathlib import Path
from typing import Any
from typing import Tuple

import cv2
import numpy as np
import pytest

from accel_ai_ros.errors import PreprocessError
from accel_ai_ros.image_codec import DecodedImage
from accel_ai_ros.preprocess import CpuPreprocessor
from accel_ai_ros.preprocess import plan_resize
from accel_ai_ros.preprocess import PreprocessSpec
from accel_ai_ros.preprocess import spec_from_tensor

SHARED = Path(__file__).resolve().parents[2] / 'shared'
FACE_MODEL = SHARED / 'models' / 'face-detector-slim-320' / 'version-slim-320.onnx'

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def run(image: DecodedImage, **spec_args: Any) -> Tuple[np.ndarray, Any]:
    """Preprocess ``image`` with a spec built from ``spec_args``."""
    spec = PreprocessSpec(**spec_args)
    tensor, transform = CpuPreprocessor(spec)(image)
    assert tensor.shape == spec.output_shape
    assert tensor.dtype == np.dtype(spec.dtype)
    assert tensor.flags['C_CONTIGUOUS']
    return tensor, transform


def random_image(height: int, width: int, order: str = 'bgr', seed: int = 0) -> DecodedImage:
    """Return a random uint8 image in ``order``."""
    channels = {'rgb': 3, 'bgr': 3, 'rgba': 4, 'bgra': 4}.get(order)
    shape = (height, width) if channels is None else (height, width, channels)
    pixels = np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)
    return DecodedImage(pixels, order)


# -- geometry ------------------------------------------------------------------------------
def test_letterbox_200x100_into_100x100() -> None:
    # 200 wide, 100 tall: scale 0.5 -> 100x50, padded 25 rows above and below.
    pixels = np.zeros((100, 200, 3), np.uint8)
    pixels[:, :100] = (0, 0, 255)     # left half red (bgr)
    pixels[:, 100:] = (255, 0, 0)     # right half blue (bgr)
    tensor, tf = run(DecodedImage(pixels, 'bgr'), height=100, width=100)
    assert (tf.scale_x, tf.scale_y, tf.offset_x, tf.offset_y) == (0.5, 0.5, 0.0, 25.0)
    assert (tf.image_width, tf.image_height) == (200, 100)
    np.testing.assert_allclose(tensor[0, :, :25, :], 114 / 255, rtol=1e-6)
    np.testing.assert_allclose(tensor[0, :, 75:, :], 114 / 255, rtol=1e-6)
    red = tensor[0, :, 25:75, :49]
    blue = tensor[0, :, 25:75, 51:]
    np.testing.assert_allclose(red[0], 1.0, rtol=1e-6)
    np.testing.assert_allclose(blue[2], 1.0, rtol=1e-6)
    assert np.all(red[1:] == 0.0) and np.all(blue[:2] == 0.0)
    # a box around the red half in model pixels maps back to the red half of the image
    back = tf.boxes_to_image(np.array([[0.0, 25.0, 50.0, 75.0], [10.0, 30.0, 60.0, 70.0]]))
    np.testing.assert_array_equal(back, [[0, 0, 100, 100], [20, 10, 120, 90]])


def test_letterbox_tall_image_pads_columns() -> None:
    tensor, tf = run(random_image(200, 100), height=100, width=100, dtype='uint8')
    assert (tf.scale_x, tf.scale_y, tf.offset_x, tf.offset_y) == (0.5, 0.5, 25.0, 0.0)
    assert np.all(tensor[0, :, :, :25] == 114) and np.all(tensor[0, :, :, 75:] == 114)


def test_letterbox_same_aspect_is_plain_resize() -> None:
    image = random_image(60, 80)
    tensor, tf = run(image, height=30, width=40, dtype='uint8', channel_order='bgr')
    assert (tf.scale_x, tf.scale_y, tf.offset_x, tf.offset_y) == (0.5, 0.5, 0.0, 0.0)
    expected = cv2.resize(image.pixels, (40, 30), interpolation=cv2.INTER_LINEAR)
    np.testing.assert_array_equal(tensor[0], expected.transpose(2, 0, 1))


def test_center_crop_without_scaling_is_the_middle() -> None:
    image = random_image(100, 200, 'rgb')
    tensor, tf = run(image, height=100, width=100, resize_mode='center_crop', dtype='uint8',
                     layout='nhwc')
    assert (tf.scale_x, tf.scale_y, tf.offset_x, tf.offset_y) == (1.0, 1.0, -50.0, 0.0)
    np.testing.assert_array_equal(tensor[0], image.pixels[:, 50:150])
    # the whole model input maps back to the middle of the image
    np.testing.assert_array_equal(tf.boxes_to_image(np.array([[0, 0, 100, 100]])),
                                  [[50, 0, 150, 100]])


def test_center_crop_with_scaling() -> None:
    # 400x200 into 100x100: scale max(0.25, 0.5) = 0.5, 200x200 source square from x=100.
    image = random_image(200, 400, 'rgb')
    tensor, tf = run(image, height=100, width=100, resize_mode='center_crop', dtype='uint8',
                     layout='nhwc')
    assert (tf.scale_x, tf.scale_y, tf.offset_x, tf.offset_y) == (0.5, 0.5, -50.0, 0.0)
    expected = cv2.resize(image.pixels[:, 100:300], (100, 100), interpolation=cv2.INTER_LINEAR)
    np.testing.assert_array_equal(tensor[0], expected)
    np.testing.assert_array_equal(tf.boxes_to_image(np.array([[0, 0, 100, 100]])),
                                  [[100, 0, 300, 200]])
    plan = plan_resize(PreprocessSpec(100, 100, resize_mode='center_crop'), 400, 200)
    assert plan.crop == (100, 0, 300, 200) and plan.size == (100, 100)


def test_stretch_scales_axes_independently() -> None:
    image = random_image(100, 200, 'rgb')
    tensor, tf = run(image, height=100, width=50, resize_mode='stretch', dtype='uint8',
                     layout='nhwc')
    assert (tf.scale_x, tf.scale_y, tf.offset_x, tf.offset_y) == (0.25, 1.0, 0.0, 0.0)
    expected = cv2.resize(image.pixels, (50, 100), interpolation=cv2.INTER_LINEAR)
    np.testing.assert_array_equal(tensor[0], expected)
    np.testing.assert_array_equal(tf.boxes_to_image(np.array([[5, 10, 25, 90]])),
                                  [[20, 10, 100, 90]])


def test_same_size_image_is_untouched() -> None:
    image = random_image(48, 64, 'rgb')
    for mode in ('stretch', 'letterbox', 'center_crop'):
        tensor, tf = run(image, height=48, width=64, resize_mode=mode, dtype='uint8',
                         layout='nhwc')
        np.testing.assert_array_equal(tensor[0], image.pixels)
        assert (tf.scale_x, tf.scale_y, tf.offset_x, tf.offset_y) == (1.0, 1.0, 0.0, 0.0)


# -- colour --------------------------------------------------------------------------------
@pytest.mark.parametrize('order,pixel', [
    ('rgb', (255, 0, 0)), ('bgr', (0, 0, 255)), ('rgba', (255, 0, 0, 7)),
    ('bgra', (0, 0, 255, 7))])
@pytest.mark.parametrize('layout', ['nchw', 'nhwc'])
def test_pure_red_lands_in_the_model_red_channel(order: str, pixel: Tuple[int, ...],
                                                 layout: str) -> None:
    image = DecodedImage(np.full((8, 8, len(pixel)), pixel, np.uint8), order)
    for model_order, red in (('rgb', 0), ('bgr', 2)):
        for dtype, full in (('float32', 1.0), ('uint8', 255)):
            tensor, _ = run(image, height=8, width=8, channel_order=model_order,
                            layout=layout, dtype=dtype)
            chw = tensor[0] if layout == 'nchw' else tensor[0].transpose(2, 0, 1)
            np.testing.assert_allclose(chw[red], full, rtol=1e-6)
            others = [c for c in range(3) if c != red]
            assert np.all(chw[others] == 0)


def test_mono_replicates_and_colour_becomes_grey() -> None:
    grey = DecodedImage(np.full((4, 6), 51, np.uint8), 'mono')
    tensor, _ = run(grey, height=4, width=6)
    np.testing.assert_allclose(tensor, 0.2, rtol=1e-6)
    colour = DecodedImage(np.full((4, 6, 3), (10, 200, 30), np.uint8), 'rgb')
    tensor, _ = run(colour, height=4, width=6, channel_order='mono', dtype='uint8')
    assert tensor.shape == (1, 1, 4, 6)
    expected = cv2.cvtColor(colour.pixels, cv2.COLOR_RGB2GRAY)[0, 0]
    assert abs(int(expected) - round(0.299 * 10 + 0.587 * 200 + 0.114 * 30)) <= 1
    assert np.all(tensor == expected)


def test_mono16_is_scaled_to_8_bit_range() -> None:
    value16 = 257 * 100 + 128  # 100.498 in 8-bit units
    image = DecodedImage(np.full((10, 20), value16, np.uint16), 'mono')
    tensor, tf = run(image, height=20, width=20, scale=1.0)
    assert tf.offset_y == 5.0
    np.testing.assert_allclose(tensor[0, :, 5:15], value16 / 257, rtol=1e-6)
    np.testing.assert_allclose(tensor[0, :, :5], 114.0, rtol=1e-6)  # pad is grey 114
    raw, _ = run(image, height=20, width=20, dtype='uint8', layout='nhwc')
    assert np.all(raw[0, 5:15] == 100) and np.all(raw[0, :5] == 114)
    nhwc, _ = run(image, height=20, width=20, layout='nhwc', mean=(0.1, 0.2, 0.3))
    np.testing.assert_allclose(nhwc[0, 10, 10], value16 / 257 / 255 - np.array([0.1, 0.2, 0.3]),
                               rtol=1e-6)


# -- arithmetic, layout, dtype -------------------------------------------------------------
@pytest.mark.parametrize('layout', ['nchw', 'nhwc'])
def test_mean_std_per_channel_on_a_constant_image(layout: str) -> None:
    image = DecodedImage(np.full((6, 6, 3), (30, 20, 10), np.uint8), 'bgr')  # rgb 10, 20, 30
    tensor, _ = run(image, height=3, width=3, layout=layout, mean=IMAGENET_MEAN,
                    std=IMAGENET_STD)
    expected = [(v / 255 - m) / s for v, m, s in zip((10, 20, 30), IMAGENET_MEAN, IMAGENET_STD)]
    values = tensor[0].reshape(3, -1) if layout == 'nchw' else tensor[0].reshape(-1, 3).T
    np.testing.assert_allclose(values, np.repeat(np.array(expected)[:, None], 9, 1), rtol=1e-6)
    # the face detector's (pixel - 127) / 128 with scale 1 and mean/std in pixel units
    tensor, _ = run(image, height=3, width=3, layout=layout, scale=1.0, mean=(127,), std=(128,))
    np.testing.assert_allclose(np.unique(tensor), sorted((v - 127) / 128 for v in (10, 20, 30)),
                               rtol=1e-6)


@pytest.mark.parametrize('shape', [(120, 90), (90, 120)])  # pad columns, pad rows
def test_nhwc_is_the_transpose_of_nchw(shape: Tuple[int, int]) -> None:
    image = random_image(*shape, 'bgra', seed=3)
    for mode in ('stretch', 'letterbox', 'center_crop'):
        args = {'height': 64, 'width': 64, 'resize_mode': mode, 'mean': IMAGENET_MEAN,
                'std': IMAGENET_STD}
        nchw, tf1 = run(image, layout='nchw', **args)
        nhwc, tf2 = run(image, layout='nhwc', **args)
        assert tf1 == tf2
        np.testing.assert_allclose(nhwc, nchw.transpose(0, 2, 3, 1), rtol=1e-6, atol=1e-6)


def test_float16_and_uint8_outputs() -> None:
    image = random_image(90, 160, seed=5)
    args = {'height': 64, 'width': 64, 'mean': IMAGENET_MEAN, 'std': IMAGENET_STD}
    f32, _ = run(image, **args)
    for layout in ('nchw', 'nhwc'):
        f16, _ = run(image, dtype='float16', layout=layout, **args)
        if layout == 'nhwc':
            f16 = f16.transpose(0, 3, 1, 2)
        np.testing.assert_allclose(f16.astype(np.float32), f32, atol=2e-3)
    raw, tf = run(image, height=64, width=64, dtype='uint8')
    scaled, _ = run(image, height=64, width=64)
    np.testing.assert_allclose(raw.astype(np.float32) / 255, scaled, rtol=1e-6)
    assert raw[0, :, 0, 0].tolist() == [114, 114, 114] and tf.offset_y == 14.0


def test_writes_into_a_preallocated_buffer() -> None:
    for layout in ('nchw', 'nhwc'):
        spec = PreprocessSpec(32, 48, layout=layout, mean=IMAGENET_MEAN, std=IMAGENET_STD)
        pre = CpuPreprocessor(spec)
        out = np.full(spec.output_shape, np.nan, np.float32)
        first = random_image(40, 40, seed=1)
        second = random_image(30, 70, 'rgb', seed=2)  # another size: a new plan, same buffer
        for image in (first, second):
            tensor, tf = pre(image, out)
            assert tensor is out
            fresh, tf_fresh = pre(image)
            assert fresh is not out and tf == tf_fresh
            np.testing.assert_array_equal(out, fresh)
    pre = CpuPreprocessor(PreprocessSpec(32, 48))
    bad_buffers = [np.empty((1, 3, 48, 32), np.float32), np.empty((1, 3, 32, 48), np.float16),
                   np.empty((1, 3, 48, 32), np.float32).transpose(0, 1, 3, 2)]
    for bad in bad_buffers:
        with pytest.raises(PreprocessError, match='np.empty'):
            pre(first, bad)


def test_row_padded_read_only_view_like_a_message_buffer() -> None:
    image = random_image(30, 50, 'bgr', seed=4)
    step = 50 * 3 + 10  # padded rows, as sensor_msgs/Image may carry
    buffer = np.zeros(30 * step, np.uint8)
    for row in range(30):
        buffer[row * step: row * step + 150] = image.pixels[row].reshape(-1)
    view = np.lib.stride_tricks.as_strided(buffer, (30, 50, 3), (step, 3, 1), writeable=False)
    for mode in ('stretch', 'letterbox', 'center_crop'):
        expected, _ = run(image, height=20, width=20, resize_mode=mode)
        got, _ = run(DecodedImage(view, 'bgr'), height=20, width=20, resize_mode=mode)
        np.testing.assert_array_equal(got, expected)


def test_bad_images_raise() -> None:
    pre = CpuPreprocessor(PreprocessSpec(8, 8))
    with pytest.raises(PreprocessError, match='order'):
        pre(DecodedImage(np.zeros((4, 4, 3), np.uint8), 'yuv'))
    with pytest.raises(PreprocessError, match='channel'):
        pre(DecodedImage(np.zeros((4, 4), np.uint8), 'rgb'))
    with pytest.raises(PreprocessError, match='uint16'):
        pre(DecodedImage(np.zeros((4, 4, 3), np.uint16), 'rgb'))
    with pytest.raises(PreprocessError, match='empty'):
        pre(DecodedImage(np.zeros((0, 4, 3), np.uint8), 'rgb'))


# -- reference -----------------------------------------------------------------------------
def bilinear_reference(pixels: np.ndarray, width: int, height: int) -> np.ndarray:
    """Resize with half-pixel-centre bilinear interpolation, one output pixel at a time."""
    in_h, in_w = pixels.shape[:2]
    src = pixels.astype(np.float64)
    out = np.zeros((height, width) + pixels.shape[2:], np.float64)
    for y in range(height):
        fy = min(max((y + 0.5) * in_h / height - 0.5, 0.0), in_h - 1.0)
        y0 = int(np.floor(fy))
        y1, wy = min(y0 + 1, in_h - 1), fy - y0
        for x in range(width):
            fx = min(max((x + 0.5) * in_w / width - 0.5, 0.0), in_w - 1.0)
            x0 = int(np.floor(fx))
            x1, wx = min(x0 + 1, in_w - 1), fx - x0
            top = src[y0, x0] * (1 - wx) + src[y0, x1] * wx
            bottom = src[y1, x0] * (1 - wx) + src[y1, x1] * wx
            out[y, x] = top * (1 - wy) + bottom * wy
    return out


def normalise_reference(resized_bgr: np.ndarray, scale: float, mean: Tuple[float, ...],
                        std: Tuple[float, ...]) -> np.ndarray:
    """Swap BGR to RGB, normalise in float64 channel by channel and lay out as NCHW."""
    chw = np.zeros((3,) + resized_bgr.shape[:2], np.float64)
    for c in range(3):
        chw[c] = (resized_bgr[:, :, 2 - c].astype(np.float64) * scale - mean[c]) / std[c]
    return chw[None]


@pytest.mark.parametrize('size', [(23, 17), (50, 80), (9, 31)])
def test_stretch_matches_a_numpy_reference(size: Tuple[int, int]) -> None:
    height, width = size
    image = random_image(37, 45, 'bgr', seed=height)
    tensor, _ = run(image, height=height, width=width, resize_mode='stretch',
                    mean=IMAGENET_MEAN, std=IMAGENET_STD)
    # same interpolation (OpenCV's, on uint8) then float64 arithmetic: equal to 1e-5
    same = cv2.resize(image.pixels, (width, height), interpolation=cv2.INTER_LINEAR)
    expected = normalise_reference(same, 1 / 255, IMAGENET_MEAN, IMAGENET_STD)
    np.testing.assert_allclose(tensor, expected, atol=1e-5, rtol=0)
    # pure numpy bilinear: OpenCV's fixed-point uint8 result is within one grey level
    slow = normalise_reference(bilinear_reference(image.pixels, width, height), 1 / 255,
                               IMAGENET_MEAN, IMAGENET_STD)
    one_level = 1 / 255 / min(IMAGENET_STD) + 1e-5
    assert np.max(np.abs(tensor - slow)) <= one_level


@pytest.mark.parametrize('layout', ['nchw', 'nhwc'])
def test_letterbox_matches_a_numpy_reference(layout: str) -> None:
    image = random_image(45, 91, 'bgr', seed=7)
    tensor, tf = run(image, height=40, width=40, mean=IMAGENET_MEAN, std=IMAGENET_STD,
                     layout=layout)
    if layout == 'nhwc':
        tensor = tensor.transpose(0, 3, 1, 2)
    # 91x45 -> scale 40/91, 40x20 (19.78 rounded), pads 10 above and below
    assert (tf.offset_x, tf.offset_y) == (0.0, 10.0)
    canvas = np.full((40, 40, 3), 114, np.uint8)
    canvas[10:30] = cv2.resize(image.pixels, (40, 20), interpolation=cv2.INTER_LINEAR)
    expected = normalise_reference(canvas, 1 / 255, IMAGENET_MEAN, IMAGENET_STD)
    np.testing.assert_allclose(tensor, expected, atol=1e-5, rtol=0)
    assert tf.scale_x == 40 / 91 and tf.scale_y == 20 / 45


# -- specs ---------------------------------------------------------------------------------
def test_spec_from_static_nchw_tensor() -> None:
    spec = spec_from_tensor((1, 3, 240, 320), np.float32, scale=1.0, mean=(127,), std=(128,))
    assert (spec.height, spec.width, spec.layout, spec.dtype) == (240, 320, 'nchw', 'float32')
    assert spec.mean == (127.0,) * 3 and spec.std == (128.0,) * 3
    assert spec.output_shape == (1, 3, 240, 320)


def test_spec_from_nhwc_and_mono_tensors() -> None:
    spec = spec_from_tensor((1, 640, 640, 3), np.dtype('uint8'), channel_order='bgr')
    assert (spec.layout, spec.dtype, spec.channel_order) == ('nhwc', 'uint8', 'bgr')
    assert spec.output_shape == (1, 640, 640, 3)
    mono = spec_from_tensor((1, 1, 28, 28), 'float16', mean=(0.5,), std=(0.25,))
    assert (mono.channel_order, mono.channels, mono.dtype) == ('mono', 1, 'float16')
    assert mono.mean == (0.5,) and mono.output_shape == (1, 1, 28, 28)
    # default three-value mean/std collapse for one channel
    assert spec_from_tensor((1, 28, 28, 1), np.float32).output_shape == (1, 28, 28, 1)


def test_spec_from_dynamic_tensor() -> None:
    with pytest.raises(PreprocessError, match='fallback_size'):
        spec_from_tensor(('batch', 3, 'height', 'width'), np.float32)
    spec = spec_from_tensor(('batch', 3, 'height', 'width'), np.float32, fallback_size=(480, 640))
    assert (spec.height, spec.width, spec.layout) == (480, 640, 'nchw')
    spec = spec_from_tensor((None, -1, 256, 3), np.float32, fallback_size=(100, 200))
    assert (spec.height, spec.width, spec.layout) == (100, 256, 'nhwc')


@pytest.mark.parametrize('shape,dtype,match', [
    ((1, 3, 224), np.float32, '4-D'),
    ((4, 3, 224, 224), np.float32, 'batch'),
    ((1, 5, 224, 224), np.float32, 'layout'),
    ((1, 3, 224, 224), np.float64, 'float64'),
    ((1, 3, 224, 224), np.int8, 'int8'),
])
def test_spec_from_unusable_tensors_raise(shape: Tuple[int, ...], dtype: Any,
                                          match: str) -> None:
    with pytest.raises(PreprocessError, match=match):
        spec_from_tensor(shape, dtype)


@pytest.mark.parametrize('args,match', [
    ({'resize_mode': 'fit'}, 'stretch, letterbox, center_crop'),
    ({'channel_order': 'rgba'}, 'rgb, bgr, mono'),
    ({'layout': 'chw'}, 'nchw, nhwc'),
    ({'dtype': 'int8'}, 'float32, float16, uint8'),
    ({'height': 0}, 'height'),
    ({'width': 2.5}, 'width'),
    ({'std': (1.0, 0.0, 1.0)}, 'std'),
    ({'mean': (0.1, 0.2)}, 'mean has 2 values'),
    ({'channel_order': 'mono', 'mean': IMAGENET_MEAN}, 'mean has 3 values'),
    ({'scale': 0.0}, 'scale'),
    ({'scale': float('inf')}, 'scale'),
    ({'pad_value': 300}, 'pad_value'),
    ({'dtype': 'uint8', 'mean': IMAGENET_MEAN}, 'raw pixels'),
])
def test_invalid_specs_raise(args: Any, match: str) -> None:
    with pytest.raises(PreprocessError, match=match):
        PreprocessSpec(**{'height': 8, 'width': 8, **args})


# -- real model ----------------------------------------------------------------------------
def test_face_detector_input_from_its_own_metadata() -> None:
    if not FACE_MODEL.is_file():
        pytest.skip(f'{FACE_MODEL} is absent (test data lives in ../shared beside the repo)')
    ort = pytest.importorskip('onnxruntime')
    session = ort.InferenceSession(str(FACE_MODEL), providers=['CPUExecutionProvider'])
    info = session.get_inputs()[0]
    spec = spec_from_tensor(info.shape, np.float32, scale=1.0, mean=(127,), std=(128,))
    assert spec.output_shape == (1, 3, 240, 320)
    image = DecodedImage(np.full((480, 640, 3), 127, np.uint8), 'bgr')
    tensor, tf = CpuPreprocessor(spec)(image)
    assert np.all(tensor == 0.0) and tf.scale_x == 0.5 and tf.offset_y == 0.0
    scores, boxes = session.run(['scores', 'boxes'], {info.name: tensor})
    assert scores.shape == (1, 4420, 2) and boxes.shape == (1, 4420, 4)
    assert float(scores[0, :, 1].max()) < 0.7  # a flat grey frame holds no face
