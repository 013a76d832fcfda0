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

"""Bounded decoding: sizes read from headers, bombs and hostile fields refused before OpenCV."""

import resource
import time
from typing import Any
from typing import List
from typing import Tuple

import cv2
from hostile_images import png_bomb
from hostile_images import png_header_only
from hypothesis import given
from hypothesis import HealthCheck
from hypothesis import settings
from hypothesis import strategies as st
import numpy as np
import pytest

from accel_ai_ros.errors import ImageDecodeError
from accel_ai_ros.image_codec import decode_compressed
from accel_ai_ros.image_codec import decode_image
from accel_ai_ros.image_codec import SUPPORTED_ENCODINGS
from accel_ai_ros.image_header import MAX_JPEG_SCANS
from accel_ai_ros.image_header import read_compressed_header

RNG = np.random.default_rng(7)


def encoded(ext: str, pixels: np.ndarray, params: Tuple[int, ...] = ()) -> bytes:
    """Return ``pixels`` encoded by OpenCV."""
    ok, buf = cv2.imencode(ext, pixels, list(params))
    assert ok
    return buf.tobytes()


CASES: List[Tuple[str, Tuple[int, ...], Any, Tuple[int, ...], int]] = [
    ('.png', (37, 53, 3), np.uint8, (), 3),
    ('.png', (37, 53, 4), np.uint8, (), 4),
    ('.png', (37, 53), np.uint8, (), 1),
    ('.png', (37, 53), np.uint16, (), 1),
    ('.png', (37, 53, 3), np.uint16, (), 3),
    ('.jpg', (37, 53, 3), np.uint8, (), 3),
    ('.jpg', (37, 53), np.uint8, (), 1),
    ('.jpg', (37, 53, 3), np.uint8, (cv2.IMWRITE_JPEG_PROGRESSIVE, 1), 3),
    ('.tiff', (37, 53, 3), np.uint8, (), 3),
    ('.tiff', (37, 53), np.uint16, (), 1),
    ('.webp', (37, 53, 3), np.uint8, (), 3),
    ('.webp', (37, 53, 3), np.uint8, (cv2.IMWRITE_WEBP_QUALITY, 101), 3),
    ('.bmp', (37, 53, 3), np.uint8, (), 3),
]


@pytest.mark.parametrize('ext,shape,dtype,params,channels', CASES)
def test_header_size_matches_what_opencv_decodes(ext, shape, dtype, params, channels) -> None:
    pixels = RNG.integers(0, np.iinfo(dtype).max, size=shape, dtype=dtype)
    data = encoded(ext, pixels, params)
    header = read_compressed_header(data)
    assert (header.height, header.width) == shape[:2]
    assert (header.channels == 1) == (channels == 1)
    image = decode_compressed('', data)
    assert image.pixels.shape[:2] == shape[:2]
    # Colour comes out 8-bit BGR straight from the decoder; grey keeps its depth.
    if channels == 1:
        assert image.order == 'mono' and image.pixels.dtype == dtype
    else:
        assert image.order == 'bgr' and image.pixels.shape[2] == 3
        assert image.pixels.dtype == np.uint8


def test_the_test_bomb_is_a_real_png() -> None:
    image = cv2.imdecode(np.frombuffer(png_bomb(600, 400), np.uint8), cv2.IMREAD_UNCHANGED)
    assert image is not None and image.shape == (400, 600) and not image.any()


def test_a_decompression_bomb_is_refused_from_its_header() -> None:
    bomb = png_bomb(30000, 30000)           # 900 megapixels in 5.7 MB
    assert len(bomb) < 8_000_000
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.monotonic()
    with pytest.raises(ImageDecodeError, match=r'30000x30000 .* over max_image_pixels') as err:
        decode_compressed('png', bomb)
    assert err.value.kind == 'too_large'
    assert time.monotonic() - start < 1.0
    grown_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kb < 100_000, f'peak resident memory grew {grown_kb} kB'


def test_the_limit_is_a_parameter() -> None:
    data = encoded('.png', np.zeros((40, 50, 3), np.uint8))
    assert decode_compressed('png', data, max_pixels=2000).pixels.shape == (40, 50, 3)
    with pytest.raises(ImageDecodeError, match='50x40 = 2000 pixels, over max_image_pixels '
                       '= 1999') as err:
        decode_compressed('png', data, max_pixels=1999)
    assert err.value.kind == 'too_large'
    step = 50 * 3
    with pytest.raises(ImageDecodeError, match='max_image_pixels = 1999') as err:
        decode_image('rgb8', 40, 50, step, False, bytes(step * 40), max_pixels=1999)
    assert err.value.kind == 'too_large'


def test_a_header_over_opencvs_own_limit_is_rejected_not_failed() -> None:
    tiny = png_header_only(100000, 100000)
    assert len(tiny) < 80
    with pytest.raises(ImageDecodeError, match='100000x100000') as err:
        decode_compressed('png', tiny, max_pixels=1 << 40)
    assert err.value.kind == 'too_large'


def test_a_jpeg_with_too_many_scans_is_refused() -> None:
    data = encoded('.jpg', np.zeros((16, 16, 3), np.uint8), (cv2.IMWRITE_JPEG_PROGRESSIVE, 1))
    assert decode_compressed('jpeg', data).pixels.shape == (16, 16, 3)
    with pytest.raises(ImageDecodeError, match='scans') as err:
        decode_compressed('jpeg', data + b'\xff\xda' * (MAX_JPEG_SCANS + 1))
    assert err.value.kind == 'too_large'


@pytest.mark.parametrize('data,match', [
    (b'', 'empty'),
    (b'not an image at all', 'not JPEG, PNG, TIFF, WebP or BMP'),
    (b'GIF89a\x01\x00\x01\x00', 'not JPEG, PNG'),
    (b'\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDX', 'PNG header is unreadable'),
    (b'\xff\xd8\xff\xe0\x00\x10JFIF', 'JPEG header is unreadable'),
    (b'\xff\xd8\xff\xda\x00\x08', 'image data starts before the frame header'),
    (b'II*\x00\xff\xff\x00\x00', 'TIFF header is unreadable'),
    (b'II+\x00\x08\x00\x00\x00', 'BigTIFF'),
    (b'RIFF\x00\x00\x00\x00WEBPVP8 ', 'WebP header is unreadable'),
])
def test_unreadable_headers_are_rejected_with_a_reason(data: bytes, match: str) -> None:
    with pytest.raises(ImageDecodeError, match=match):
        decode_compressed('', data)


def test_a_corrupt_jpeg_decodes_and_libjpeg_complaint_is_captured(capfd) -> None:
    data = bytearray(encoded('.jpg', RNG.integers(0, 255, (64, 64, 3), dtype=np.uint8)))
    middle = len(data) // 2
    data[middle:middle + 40] = bytes(40)
    image = decode_compressed('jpeg', bytes(data))
    assert image.pixels.shape == (64, 64, 3)
    assert 'Corrupt JPEG data' in image.library_messages
    assert 'Corrupt JPEG' not in capfd.readouterr().err


def test_a_truncated_png_says_what_libpng_said(capfd) -> None:
    data = encoded('.png', RNG.integers(0, 255, (480, 640, 3), dtype=np.uint8))
    with pytest.raises(ImageDecodeError, match='cannot decode .* the decoder said .*libpng'
                       ) as err:
        decode_compressed('png', data[:len(data) // 2])
    assert err.value.kind == 'decode'
    assert 'libpng' not in capfd.readouterr().err


@pytest.mark.parametrize('encoding,height,width,step,match', [
    ('mono16', 4, 5, 11, 'step 11 is odd for mono16'),
    ('16UC1', 4, 5, 13, 'step 13 is odd'),
    ('bayer_rggb8', 1, 1, 1, 'at least 2x2'),
    ('yuv422', 4, 3, 6, 'even width'),
])
def test_encoding_size_rules_are_checked_before_opencv(
        encoding, height, width, step, match) -> None:
    with pytest.raises(ImageDecodeError, match=match) as err:
        decode_image(encoding, height, width, step, False, bytes(step * height))
    assert err.value.kind == 'size'


def test_user_strings_in_messages_are_escaped_and_cut() -> None:
    with pytest.raises(ImageDecodeError) as err:
        decode_image('rgb8\n[ERROR] [forged]: line', 2, 2, 6, False, bytes(12))
    assert '\n' not in str(err.value) and '\\n[ERROR]' in str(err.value)
    with pytest.raises(ImageDecodeError) as err:
        decode_image('x' * 1000, 2, 2, 6, False, bytes(12))
    assert 'x' * 65 not in str(err.value) and '936 more characters' in str(err.value)
    with pytest.raises(ImageDecodeError) as err:
        decode_compressed('h264\r\x1b[2K', b'\x00')
    assert '\r' not in str(err.value) and '\x1b' not in str(err.value)


@settings(max_examples=300, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(encoding=st.sampled_from(SUPPORTED_ENCODINGS + ('', 'rgb16', '\x00')),
       height=st.integers(-2, 70), width=st.integers(-2, 70), step=st.integers(-4, 300),
       big=st.booleans(), size=st.integers(0, 20000))
def test_any_raw_image_fields_decode_or_are_rejected(
        encoding, height, width, step, big, size) -> None:
    try:
        image = decode_image(encoding, height, width, step, big, bytes(size))
    except ImageDecodeError:
        return
    assert image.pixels.shape[:2] == (height, width)
    cv2.resize(image.pixels, (8, 8))  # what preprocessing does first: OpenCV accepts it


@settings(max_examples=300, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(seed_image=st.sampled_from(['.png', '.jpg', '.tiff', '.webp', '.bmp']),
       cuts=st.lists(st.tuples(st.integers(0, 4000), st.integers(0, 255)), max_size=8),
       truncate=st.integers(0, 4000))
def test_any_mutated_compressed_bytes_decode_or_are_rejected(
        seed_image, cuts, truncate) -> None:
    data = bytearray(encoded(seed_image, np.full((24, 40, 3), 90, np.uint8)))
    for offset, value in cuts:
        if offset < len(data):
            data[offset] = value
    if truncate:
        data = data[:truncate]
    try:
        image = decode_compressed('', bytes(data), max_pixels=1 << 20)
    except ImageDecodeError:
        return
    assert image.pixels.size <= 4 << 20
