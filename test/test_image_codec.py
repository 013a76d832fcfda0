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

"""Tests of accel_ai_ros.image_codec: every encoding, views, padding, rejections, messages."""

import array
import sys
from typing import Any
from typing import Callable
from typing import Dict
from typing import List
from typing import Tuple

import cv2
import numpy as np
import pytest

from accel_ai_ros.errors import ImageDecodeError
from accel_ai_ros.image_codec import decode_compressed
from accel_ai_ros.image_codec import decode_compressed_msg
from accel_ai_ros.image_codec import decode_image
from accel_ai_ros.image_codec import decode_image_msg
from accel_ai_ros.image_codec import DecodedImage
from accel_ai_ros.image_codec import encode_image
from accel_ai_ros.image_codec import SUPPORTED_ENCODINGS

H, W = 6, 10
RNG = np.random.default_rng(1234)
RGB = RNG.integers(0, 256, size=(H, W, 3), dtype=np.uint8)
ALPHA = RNG.integers(0, 256, size=(H, W, 1), dtype=np.uint8)
GRAY = RNG.integers(0, 256, size=(H, W), dtype=np.uint8)
GRAY16 = RNG.integers(0, 65536, size=(H, W), dtype=np.uint16)

# encoding -> (pixels as laid out on the wire, expected order)
PLAIN: Dict[str, Tuple[np.ndarray, str]] = {
    'rgb8': (RGB, 'rgb'),
    'bgr8': (RGB[:, :, ::-1], 'bgr'),
    'rgba8': (np.concatenate([RGB, ALPHA], axis=2), 'rgba'),
    'bgra8': (np.concatenate([RGB[:, :, ::-1], ALPHA], axis=2), 'bgra'),
    'mono8': (GRAY, 'mono'),
    '8UC1': (GRAY, 'mono'),
    '8UC3': (RGB[:, :, ::-1], 'bgr'),
    '8UC4': (np.concatenate([RGB[:, :, ::-1], ALPHA], axis=2), 'bgra'),
    'mono16': (GRAY16, 'mono'),
    '16UC1': (GRAY16, 'mono'),
}

BUFFER_TYPES: Dict[str, Callable[[bytes], Any]] = {
    'bytes': bytes,
    'bytearray': bytearray,
    'memoryview': memoryview,
    'array': lambda raw: array.array('B', raw),
    'numpy': lambda raw: np.frombuffer(raw, dtype=np.uint8).copy(),
}


def pack_rows(pixels: np.ndarray, pad: int, big_endian: bool = False) -> Tuple[int, bytes]:
    """Return ``(step, data)`` of ``pixels`` with ``pad`` junk bytes after every row."""
    if pixels.dtype.itemsize > 1:
        pixels = pixels.astype(pixels.dtype.newbyteorder('>' if big_endian else '<'))
    rows = pixels.reshape(pixels.shape[0], -1).view(np.uint8)
    junk = np.full((rows.shape[0], pad), 0xAB, dtype=np.uint8)
    padded = np.ascontiguousarray(np.concatenate([rows, junk], axis=1))
    return padded.shape[1], padded.tobytes()


def as_u8(data: Any) -> np.ndarray:
    """Return a uint8 view of any buffer, to test memory sharing."""
    return data if isinstance(data, np.ndarray) else np.frombuffer(data, dtype=np.uint8)


@pytest.mark.parametrize('pad', [0, 3, 7])
@pytest.mark.parametrize('kind', sorted(BUFFER_TYPES))
@pytest.mark.parametrize('encoding', sorted(PLAIN))
def test_plain_encodings_are_views(encoding: str, kind: str, pad: int) -> None:
    wire, order = PLAIN[encoding]
    step, raw = pack_rows(wire, pad * wire.dtype.itemsize)  # 16-bit rows start on even bytes
    data = BUFFER_TYPES[kind](raw)
    image = decode_image(encoding, H, W, step, False, data)
    assert image.order == order
    assert image.pixels.dtype == wire.dtype
    assert image.pixels.dtype.isnative
    assert image.pixels.shape == wire.shape
    assert (image.height, image.width) == (H, W)
    assert image.channels == (1 if wire.ndim == 2 else wire.shape[2])
    np.testing.assert_array_equal(image.pixels, wire)
    assert np.shares_memory(image.pixels, as_u8(data)), 'decoded pixels must not be a copy'


def test_is_bigendian_ignored_for_8bit() -> None:
    step, raw = pack_rows(RGB, 0)
    image = decode_image('rgb8', H, W, step, True, raw)
    np.testing.assert_array_equal(image.pixels, RGB)


@pytest.mark.parametrize('pad', [0, 2, 4])
def test_mono16_big_endian_is_swapped_to_native(pad: int) -> None:
    step, raw = pack_rows(GRAY16, pad, big_endian=True)
    big = decode_image('mono16', H, W, step, True, raw)
    assert big.pixels.dtype == np.uint16 and big.pixels.dtype.isnative
    np.testing.assert_array_equal(big.pixels, GRAY16)
    # the same bytes read as little-endian give the byte-swapped values
    little = decode_image('mono16', H, W, step, False, raw)
    if sys.byteorder == 'little':
        np.testing.assert_array_equal(little.pixels, GRAY16.byteswap())
        assert np.shares_memory(little.pixels, as_u8(raw))


def bt601(rgb: Tuple[int, int, int]) -> Tuple[int, int, int]:
    """Return limited-range BT.601 ``(Y, U, V)`` of an 8-bit RGB colour."""
    r, g, b = (c / 255.0 for c in rgb)
    y = 16 + 65.481 * r + 128.553 * g + 24.966 * b
    u = 128 - 37.797 * r - 74.203 * g + 112.0 * b
    v = 128 + 112.0 * r - 93.786 * g - 18.214 * b
    return int(round(y)), int(round(u)), int(round(v))


# One colour per pair of columns (a pair shares its U/V), so layout mistakes show.
YUV_COLOURS: List[Tuple[int, int, int]] = [
    (200, 60, 40), (40, 180, 70), (50, 70, 200), (128, 128, 128), (230, 210, 40)]


def yuv_image(layout: str, pad: int) -> Tuple[int, bytes, np.ndarray]:
    """Return ``(step, data, expected_bgr)`` of a YUV 4:2:2 image with constant pairs."""
    width = 2 * len(YUV_COLOURS)
    rows = []
    for _ in range(H):
        row: List[int] = []
        for colour in YUV_COLOURS:
            y, u, v = bt601(colour)
            row += [u, y, v, y] if layout == 'uyvy' else [y, u, y, v]
        rows.append(row + [0x55] * pad)
    expected = np.array([[c[::-1] for c in YUV_COLOURS for _ in range(2)]] * H, np.uint8)
    assert expected.shape == (H, width, 3)
    return 2 * width + pad, np.array(rows, np.uint8).tobytes(), expected


@pytest.mark.parametrize('pad', [0, 6])
@pytest.mark.parametrize('encoding,layout', [
    ('yuv422', 'uyvy'), ('uyvy', 'uyvy'), ('yuv422_yuy2', 'yuyv'), ('yuyv', 'yuyv')])
def test_yuv422(encoding: str, layout: str, pad: int) -> None:
    step, raw, expected = yuv_image(layout, pad)
    image = decode_image(encoding, H, expected.shape[1], step, False, array.array('B', raw))
    assert image.order == 'bgr'
    assert image.pixels.shape == expected.shape
    diff = np.abs(image.pixels.astype(int) - expected.astype(int))
    assert diff.max() <= 3, f'{encoding}: max error {diff.max()}'


def mosaic(rgb: np.ndarray, pattern: str) -> np.ndarray:
    """Sample ``rgb`` through a Bayer filter named the ROS way (first row, then second)."""
    index = {'r': 0, 'g': 1, 'b': 2}
    out = np.empty(rgb.shape[:2], np.uint8)
    for dy in range(2):
        for dx in range(2):
            channel = index[pattern[2 * dy + dx]]
            out[dy::2, dx::2] = rgb[dy::2, dx::2, channel]
    return out


@pytest.mark.parametrize('pattern', ['rggb', 'bggr', 'gbrg', 'grbg'])
def test_bayer_constant_colour(pattern: str) -> None:
    rgb = np.empty((8, 12, 3), np.uint8)
    rgb[:] = (210, 120, 30)
    step, raw = pack_rows(mosaic(rgb, pattern), 4)
    image = decode_image(f'bayer_{pattern}8', 8, 12, step, False, raw)
    assert image.order == 'bgr'
    np.testing.assert_array_equal(image.pixels[1:-1, 1:-1], rgb[1:-1, 1:-1, ::-1])


@pytest.mark.parametrize('pattern', ['rggb', 'bggr', 'gbrg', 'grbg'])
def test_bayer_smooth_gradient(pattern: str) -> None:
    yy, xx = np.mgrid[0:32, 0:32].astype(np.float64)
    rgb = np.stack([40 + 5 * xx, 200 - 4 * yy, 30 + 2 * (xx + yy)], axis=2).astype(np.uint8)
    image = decode_image(f'bayer_{pattern}8', 32, 32, 32, False, mosaic(rgb, pattern))
    inner = (slice(2, -2), slice(2, -2))
    diff = np.abs(image.pixels[inner].astype(int) - rgb[:, :, ::-1][inner].astype(int))
    assert diff.max() <= 3


@pytest.mark.parametrize('encoding', ['bayer_rggb16', '32FC1', 'nv12', 'RGB8', ''])
def test_unsupported_encoding(encoding: str) -> None:
    with pytest.raises(ImageDecodeError) as info:
        decode_image(encoding, H, W, W * 3, False, bytes(H * W * 3))
    text = str(info.value)
    assert 'image_proc' in text and 'bgr8' in text and 'bayer_rggb8' in text


def test_supported_encodings_all_decode() -> None:
    for encoding in SUPPORTED_ENCODINGS:
        image = decode_image(encoding, 4, 4, 16, False, bytes(64))
        assert (image.height, image.width) == (4, 4)


@pytest.mark.parametrize('height,width', [(0, W), (H, 0), (0, 0)])
def test_empty_image(height: int, width: int) -> None:
    with pytest.raises(ImageDecodeError, match='positive'):
        decode_image('rgb8', height, width, W * 3, False, bytes(H * W * 3))


@pytest.mark.parametrize('encoding,step', [
    ('rgb8', 3 * W - 1), ('mono16', 2 * W - 1), ('yuv422', 2 * W - 2), ('mono8', 0)])
def test_step_too_small(encoding: str, step: int) -> None:
    with pytest.raises(ImageDecodeError, match='smaller than width') as info:
        decode_image(encoding, H, W, step, False, bytes(4 * H * W))
    assert str(step) in str(info.value)


def test_data_too_short() -> None:
    step = 3 * W + 2
    with pytest.raises(ImageDecodeError) as info:
        decode_image('bgr8', H, W, step, False, bytes(step * H - 1))
    text = str(info.value)
    assert str(step * H - 1) in text and str(step * H) in text


def test_yuv422_odd_width() -> None:
    with pytest.raises(ImageDecodeError, match='even width'):
        decode_image('yuv422', 2, 5, 10, False, bytes(20))


def test_not_a_buffer() -> None:
    with pytest.raises(ImageDecodeError, match='byte buffer'):
        decode_image('mono8', 1, 1, 1, False, object())


def test_decode_image_msg_rejects_other_objects() -> None:
    with pytest.raises(ImageDecodeError, match='not a sensor_msgs/Image'):
        decode_image_msg(object())
    with pytest.raises(ImageDecodeError, match='not a sensor_msgs/CompressedImage'):
        decode_compressed_msg(object())


def make_image_msg(encoding: str, pixels: np.ndarray, pad: int) -> Any:
    """Build a real sensor_msgs/Image from pixels laid out as on the wire."""
    msg_module = pytest.importorskip('sensor_msgs.msg')
    step, raw = pack_rows(pixels, pad)
    msg = msg_module.Image()
    msg.height, msg.width = pixels.shape[:2]
    msg.encoding = encoding
    msg.is_bigendian = False
    msg.step = step
    msg.data = raw
    return msg


@pytest.mark.parametrize('pad', [0, 5])
def test_real_image_message(pad: int) -> None:
    msg = make_image_msg('bgr8', RGB[:, :, ::-1], pad)
    image = decode_image_msg(msg)
    assert image.order == 'bgr'
    np.testing.assert_array_equal(image.pixels, RGB[:, :, ::-1])
    assert np.shares_memory(image.pixels, np.frombuffer(msg.data, np.uint8))


def test_real_image_message_after_serialization() -> None:
    serialization = pytest.importorskip('rclpy.serialization')
    msg = make_image_msg('mono16', GRAY16, 2)
    wire = serialization.serialize_message(msg)
    back = serialization.deserialize_message(wire, type(msg))
    image = decode_image_msg(back)
    np.testing.assert_array_equal(image.pixels, GRAY16)
    assert np.shares_memory(image.pixels, np.frombuffer(back.data, np.uint8))


def compressed(ext: str, pixels: np.ndarray, params: Tuple[int, ...] = ()) -> bytes:
    """Return ``pixels`` encoded by OpenCV."""
    ok, buf = cv2.imencode(ext, pixels, list(params))
    assert ok
    return buf.tobytes()


@pytest.mark.parametrize('fmt', ['png', 'bgr8; png compressed bgr8', 'rgb8; png compressed bgr8',
                                 '', 'PNG'])
def test_compressed_png_colour(fmt: str) -> None:
    bgr = RGB[:, :, ::-1]
    image = decode_compressed(fmt, compressed('.png', bgr))
    assert image.order == 'bgr'
    np.testing.assert_array_equal(image.pixels, bgr)


def test_compressed_png_payload_in_rgb() -> None:
    image = decode_compressed('rgb8; png compressed rgb8', compressed('.png', RGB))
    assert image.order == 'rgb'
    np.testing.assert_array_equal(image.pixels, RGB)


def test_compressed_png_mono_and_mono16_and_alpha() -> None:
    mono = decode_compressed('mono8; png compressed mono8', compressed('.png', GRAY))
    assert mono.order == 'mono'
    np.testing.assert_array_equal(mono.pixels, GRAY)
    deep = decode_compressed('mono16; png compressed mono16', compressed('.png', GRAY16))
    assert deep.order == 'mono' and deep.pixels.dtype == np.uint16
    np.testing.assert_array_equal(deep.pixels, GRAY16)
    bgra = np.concatenate([RGB[:, :, ::-1], ALPHA], axis=2)
    colour = decode_compressed('png', compressed('.png', bgra))
    assert colour.order == 'bgr'
    np.testing.assert_array_equal(colour.pixels, RGB[:, :, ::-1])


@pytest.mark.parametrize('fmt', ['jpeg', 'bgr8; jpeg compressed bgr8',
                                 'rgb8; jpeg compressed bgr8'])
def test_compressed_jpeg_message(fmt: str) -> None:
    msg_module = pytest.importorskip('sensor_msgs.msg')
    yy, xx = np.mgrid[0:48, 0:64].astype(np.float64)
    bgr = np.stack([30 + 2 * xx, 200 - 3 * yy, 60 + xx + yy], axis=2).astype(np.uint8)
    msg = msg_module.CompressedImage()
    msg.format = fmt
    msg.data = compressed('.jpg', bgr, (cv2.IMWRITE_JPEG_QUALITY, 95))
    image = decode_compressed_msg(msg)
    assert image.order == 'bgr' and image.pixels.shape == (48, 64, 3)
    diff = np.abs(image.pixels.astype(int) - bgr.astype(int))
    assert diff.mean() < 2.0 and diff.max() <= 12


@pytest.mark.parametrize('data,match', [
    (b'', 'is empty'), (b'not an image at all', 'not JPEG, PNG'),
    (None, 'JPEG header is unreadable')])
def test_compressed_garbage(data: Any, match: str) -> None:
    if data is None:  # a truncated JPEG
        data = compressed('.jpg', RGB)[:20]
    with pytest.raises(ImageDecodeError, match=match):
        decode_compressed('jpeg', data)


@pytest.mark.parametrize('fmt', ['h264', 'theora', 'rgb8; avif compressed'])
def test_compressed_unsupported_format(fmt: str) -> None:
    with pytest.raises(ImageDecodeError, match='unsupported CompressedImage format'):
        decode_compressed(fmt, compressed('.png', GRAY))


def test_compressed_depth_rejected() -> None:
    with pytest.raises(ImageDecodeError, match='compressedDepth'):
        decode_compressed('16UC1; compressedDepth png', compressed('.png', GRAY16))


@pytest.mark.parametrize('order,pixels,encoding', [
    ('rgb', RGB, 'rgb8'),
    ('bgr', RGB[:, ::2, ::-1], 'bgr8'),  # a non-contiguous view
    ('rgba', np.concatenate([RGB, ALPHA], axis=2), 'rgba8'),
    ('bgra', np.concatenate([RGB, ALPHA], axis=2), 'bgra8'),
    ('mono', GRAY, 'mono8'),
    ('mono', GRAY16, 'mono16'),
    ('mono', GRAY16.astype('>u2'), 'mono16'),
])
def test_encode_round_trip(order: str, pixels: np.ndarray, encoding: str) -> None:
    got_encoding, step, data = encode_image(DecodedImage(pixels, order))
    assert got_encoding == encoding
    height, width = pixels.shape[:2]
    assert len(data) == step * height
    back = decode_image(got_encoding, height, width, step, sys.byteorder == 'big', data)
    assert back.order == order
    np.testing.assert_array_equal(back.pixels, pixels)


@pytest.mark.parametrize('order,pixels', [
    ('rgb', GRAY), ('mono', RGB), ('rgba', RGB), ('hsv', RGB),
    ('rgb', RGB.astype(np.float32)), ('rgb', RGB.astype(np.uint16))])
def test_encode_rejects_mismatch(order: str, pixels: np.ndarray) -> None:
    with pytest.raises(ImageDecodeError):
        encode_image(DecodedImage(pixels, order))
