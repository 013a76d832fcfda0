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
Turn sensor_msgs/Image and CompressedImage fields into numpy pixels, and back.

This layer knows nothing about rclpy: it reads the message's fields by name, so any object
with ``encoding``, ``height``, ``width``, ``step``, ``is_bigendian`` and ``data`` decodes.
Plain layouts (rgb8, bgr8, rgba8, bgra8, mono8, mono16 in native byte order and their
``8UC*``/``16UC1`` aliases) come back as *views* of the message buffer, padded rows
included: no pixel is copied on the callback path. YUV 4:2:2 and Bayer mosaics take one
OpenCV conversion each and come back in ``'bgr'`` order.
"""

from contextlib import contextmanager
from dataclasses import dataclass
import os
import sys
import tempfile
import threading
from typing import Any
from typing import Dict
from typing import Iterator
from typing import Optional
from typing import Tuple

import cv2
import numpy as np

from accel_ai_ros.cdr_image import parse_cdr_image
from accel_ai_ros.errors import ImageDecodeError
from accel_ai_ros.errors import quoted_input
from accel_ai_ros.image_header import check_image_size
from accel_ai_ros.image_header import DEFAULT_MAX_IMAGE_PIXELS
from accel_ai_ros.image_header import read_compressed_header


@dataclass(frozen=True)
class DecodedImage:
    """
    Pixels of one image plus their channel order.

    ``pixels`` is ``(H, W, C)`` or ``(H, W)``; dtype ``uint8``, or ``uint16`` for mono16 in
    native byte order. It is often a view of the message buffer (writable when the buffer
    is, e.g. rclpy's array.array): copy it before writing, or the message changes too.
    ``order`` is one of ``'rgb'``, ``'bgr'``, ``'rgba'``, ``'bgra'``, ``'mono'``.
    """

    pixels: np.ndarray
    order: str
    #: What the image library wrote to stderr while decoding (e.g. libjpeg's "Corrupt JPEG
    #: data"), captured so that the node can log it with its own rate limit.
    library_messages: str = ''

    @property
    def height(self) -> int:
        """Return the number of rows."""
        return int(self.pixels.shape[0])

    @property
    def width(self) -> int:
        """Return the number of columns."""
        return int(self.pixels.shape[1])

    @property
    def channels(self) -> int:
        """Return the channel count, 1 for mono."""
        return 1 if self.pixels.ndim == 2 else int(self.pixels.shape[2])


# encoding -> (order, channels, bytes per channel); decoded as views of the buffer.
_PLAIN: Dict[str, Tuple[str, int, int]] = {
    'rgb8': ('rgb', 3, 1),
    'bgr8': ('bgr', 3, 1),
    'rgba8': ('rgba', 4, 1),
    'bgra8': ('bgra', 4, 1),
    'mono8': ('mono', 1, 1),
    'mono16': ('mono', 1, 2),
    '8UC1': ('mono', 1, 1),
    '8UC3': ('bgr', 3, 1),
    '8UC4': ('bgra', 4, 1),
    '16UC1': ('mono', 1, 2),
}

# 4:2:2 packed YUV (2 bytes per pixel) -> OpenCV conversion to BGR.
_YUV422: Dict[str, int] = {
    'yuv422': cv2.COLOR_YUV2BGR_UYVY,
    'uyvy': cv2.COLOR_YUV2BGR_UYVY,
    'yuv422_yuy2': cv2.COLOR_YUV2BGR_YUY2,
    'yuyv': cv2.COLOR_YUV2BGR_YUY2,
}

# ROS names the mosaic by its first row, OpenCV by the second: the names are shifted (this is
# the table cv_bridge uses).
_BAYER8: Dict[str, int] = {
    'bayer_rggb8': cv2.COLOR_BayerBG2BGR,
    'bayer_bggr8': cv2.COLOR_BayerRG2BGR,
    'bayer_gbrg8': cv2.COLOR_BayerGR2BGR,
    'bayer_grbg8': cv2.COLOR_BayerGB2BGR,
}

SUPPORTED_ENCODINGS: Tuple[str, ...] = tuple(_PLAIN) + tuple(_YUV422) + tuple(_BAYER8)

_ENCODE: Dict[str, str] = {
    'rgb': 'rgb8', 'bgr': 'bgr8', 'rgba': 'rgba8', 'bgra': 'bgra8', 'mono': 'mono8',
}
_ORDER_CHANNELS: Dict[str, int] = {'rgb': 3, 'bgr': 3, 'rgba': 4, 'bgra': 4, 'mono': 1}
_COMPRESSED_CODECS: Tuple[str, ...] = ('jpeg', 'jpg', 'png', 'tiff', 'tif', 'webp')
_HOST_BIG_ENDIAN = sys.byteorder == 'big'


class LibraryMessages:
    """Text that libpng, libjpeg or OpenCV wrote to stderr inside :func:`captured_stderr`."""

    def __init__(self) -> None:
        self._text = ''

    def text(self) -> str:
        """Return what was captured (empty until the ``with`` block ends)."""
        return self._text


_STDERR_LOCK = threading.Lock()
_CAPTURE_LIMIT = 4096


def _capture_file() -> int:
    """Return a new file descriptor for captured output (memory-backed where possible)."""
    if hasattr(os, 'memfd_create'):
        return os.memfd_create('accel_ai_ros_stderr', 0)
    handle, path = tempfile.mkstemp(prefix='accel_ai_ros_stderr_')
    os.unlink(path)
    return handle


@contextmanager
def captured_stderr() -> Iterator[LibraryMessages]:
    """
    Capture what C libraries write to file descriptor 2 while the block runs.

    libpng, libjpeg and OpenCV's logger write warnings straight to stderr, around the node's
    logger and its rate limits. The decoders run inside this block and the node logs the
    captured text under its own rules. Anything another thread writes to stderr in those
    milliseconds is captured too, and logged with it rather than lost.
    """
    messages = LibraryMessages()
    with _STDERR_LOCK:
        try:
            sys.stderr.flush()
        except (AttributeError, OSError, ValueError):
            pass
        capture = _capture_file()
        saved = os.dup(2)
        os.dup2(capture, 2)
        try:
            yield messages
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            os.lseek(capture, 0, os.SEEK_SET)
            messages._text = os.read(capture, _CAPTURE_LIMIT).decode('utf-8', 'replace')
            os.close(capture)


def _as_bytes(data: Any) -> np.ndarray:
    """Return the message's data as a flat uint8 array, without copying when possible."""
    if isinstance(data, np.ndarray):
        flat = np.ascontiguousarray(data).reshape(-1)
        return flat.view(np.uint8)
    try:
        return np.frombuffer(data, dtype=np.uint8)
    except (TypeError, ValueError, BufferError):
        pass
    try:
        return np.asarray(data, dtype=np.uint8).reshape(-1)  # a list of ints: one copy
    except (TypeError, ValueError) as err:
        raise ImageDecodeError(
            f'image data of type {type(data).__name__} is not a byte buffer or a sequence '
            'of bytes; pass bytes, bytearray, memoryview, array.array or a numpy uint8 '
            'array') from err


def _unsupported(encoding: str) -> ImageDecodeError:
    return ImageDecodeError(
        f'unsupported image encoding {quoted_input(encoding)}; supported: '
        f"{', '.join(SUPPORTED_ENCODINGS)}. Set the camera driver to one of these pixel "
        'formats, or convert first (image_proc debayers and rectifies, e.g. '
        "subscribe to 'image_color' or 'image_rect_color' instead of 'image_raw').",
        kind='encoding')


def _strided(buf: np.ndarray, dtype: np.dtype, height: int, width: int, channels: int,
             step: int) -> np.ndarray:
    """Return an ``(H, W[, C])`` view of ``buf`` whose rows start every ``step`` bytes."""
    item = dtype.itemsize
    if channels == 1:
        shape: Tuple[int, ...] = (height, width)
        strides: Tuple[int, ...] = (step, item)
    else:
        shape = (height, width, channels)
        strides = (step, channels * item, item)
    return np.ndarray(shape, dtype=dtype, buffer=buf, offset=0, strides=strides)


def decode_image(encoding: str, height: int, width: int, step: int, is_bigendian: bool,
                 data: Any, max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS) -> DecodedImage:
    """
    Decode the fields of a sensor_msgs/Image into pixels.

    Plain layouts return read-only or writable views of ``data`` (whatever ``data`` allows);
    big-endian mono16, YUV 4:2:2 and Bayer encodings return new arrays. Every size rule is
    checked here, before OpenCV sees the pixels.

    :raises ImageDecodeError: unsupported encoding, empty image, more than ``max_pixels``
        pixels, bad ``step``, short data.
    """
    height = int(height)
    width = int(width)
    step = int(step)
    if encoding in _PLAIN:
        order, channels, depth = _PLAIN[encoding]
    elif encoding in _YUV422:
        order, channels, depth = 'bgr', 2, 1
    elif encoding in _BAYER8:
        order, channels, depth = 'bgr', 1, 1
    else:
        raise _unsupported(encoding)
    if height <= 0 or width <= 0:
        raise ImageDecodeError(
            f'image is {width}x{height} ({encoding}); width and height must be positive. '
            'The publisher sent an empty image: check the camera driver.', kind='size')
    check_image_size(width, height, max_pixels, f'{encoding} Image')
    pixel_size = channels * depth
    if step < width * pixel_size:
        raise ImageDecodeError(
            f'step {step} is smaller than width*pixel_size = {width}*{pixel_size} = '
            f'{width * pixel_size} bytes for {encoding}; the publisher must set step to the '
            'row length in bytes (at least width times bytes per pixel).', kind='size')
    if step % depth:
        raise ImageDecodeError(
            f'step {step} is odd for {encoding}: rows of 16-bit pixels must start on an even '
            'byte; the publisher must set step to the row length in bytes (a multiple of 2).',
            kind='size')
    if encoding in _YUV422 and width % 2:
        raise ImageDecodeError(
            f'{encoding} needs an even width (two pixels share one U/V pair) but width is '
            f'{width}; set the camera to an even width or to rgb8/bgr8 output.', kind='size')
    if encoding in _BAYER8 and (width < 2 or height < 2):
        raise ImageDecodeError(
            f'{encoding} needs at least 2x2 pixels (one mosaic cell) but the image is '
            f'{width}x{height}; check the camera driver.', kind='size')
    buf = _as_bytes(data)
    needed = step * height
    if buf.size < needed:
        raise ImageDecodeError(
            f'image data has {buf.size} bytes but step*height = {step}*{height} = {needed} '
            f'bytes are needed for {width}x{height} {encoding}; the message is truncated or '
            'its step/height fields are wrong.', kind='short_data')
    if encoding in _PLAIN:
        if depth == 1:
            return DecodedImage(_strided(buf, np.dtype(np.uint8), height, width, channels,
                                         step), order)
        wire = np.dtype('>u2' if is_bigendian else '<u2')
        pixels = _strided(buf, wire, height, width, 1, step)
        if bool(is_bigendian) != _HOST_BIG_ENDIAN:
            pixels = pixels.astype(np.uint16)  # byte swap to native: one copy
        return DecodedImage(pixels, order)
    if encoding in _YUV422:
        packed = _strided(buf, np.dtype(np.uint8), height, width, 2, step)
        return DecodedImage(cv2.cvtColor(packed, _YUV422[encoding]), 'bgr')
    mosaic = _strided(buf, np.dtype(np.uint8), height, width, 1, step)
    return DecodedImage(cv2.cvtColor(mosaic, _BAYER8[encoding]), 'bgr')


def decode_image_msg(msg: Any, max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS) -> DecodedImage:
    """
    Decode any object that has the fields of sensor_msgs/Image (see :func:`decode_image`).

    :raises ImageDecodeError: the object lacks those fields, or :func:`decode_image` fails.
    """
    try:
        fields = (msg.encoding, msg.height, msg.width, msg.step, msg.is_bigendian, msg.data)
    except AttributeError as err:
        raise ImageDecodeError(
            f'{type(msg).__name__} is not a sensor_msgs/Image ({err}); subscribe with '
            'sensor_msgs.msg.Image, or use decode_compressed_msg for CompressedImage.',
            kind='encoding') from err
    return decode_image(*fields, max_pixels=max_pixels)


def _compressed_codec(fmt: str) -> Tuple[Optional[str], Optional[str]]:
    """Return ``(codec, payload_encoding)`` parsed from a CompressedImage format string."""
    text = fmt.strip().lower()
    if 'compresseddepth' in text:
        raise ImageDecodeError(
            f'CompressedImage format {quoted_input(fmt)} is compressedDepth, which is not '
            'supported; '
            'subscribe to the raw depth image, or republish it with image_transport '
            "('ros2 run image_transport republish compressedDepth raw').", kind='encoding')
    words = text.replace(';', ' ').split()
    codec = next((w for w in words if w in _COMPRESSED_CODECS), None)
    if codec is None and text:
        raise ImageDecodeError(
            f'unsupported CompressedImage format {quoted_input(fmt)}; supported codecs: jpeg, png '
            "(also tiff, webp). Use image_transport's 'compressed' plugin, or republish to "
            "raw ('ros2 run image_transport republish <codec> raw').", kind='encoding')
    payload = None
    if 'compressed' in words:
        after = words[words.index('compressed') + 1:]
        payload = after[0] if after else None
    return codec, payload


def decode_compressed(fmt: str, data: Any,
                      max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS) -> DecodedImage:
    """
    Decode a sensor_msgs/CompressedImage (``format`` and ``data``) with cv2.imdecode.

    The size the data declares is read from its header first (see
    :mod:`accel_ai_ros.image_header`) and refused over ``max_pixels``, so a decompression
    bomb costs nothing. Colour images are decoded straight to 8-bit BGR (alpha and 16-bit
    depth are dropped inside the decoder: no second full-size copy); they come back in
    ``'bgr'`` order (``'rgb'`` only when the format says the payload itself was compressed
    from rgb). Grey ones come back as ``'mono'`` (uint8, or uint16 for 16-bit PNG). An empty
    format lets the data's own signature name the codec.

    :raises ImageDecodeError: unsupported format, too large, or data that cannot be decoded.
    """
    _, payload = _compressed_codec(fmt)
    buf = _as_bytes(data)
    if not buf.size:
        raise ImageDecodeError(
            f'CompressedImage data is empty (format {quoted_input(fmt)}); check the publisher.',
            kind='short_data')
    header = read_compressed_header(buf.tobytes())
    check_image_size(header.width, header.height, max_pixels, header.codec.upper())
    flags = cv2.IMREAD_UNCHANGED if header.channels == 1 else cv2.IMREAD_COLOR
    with captured_stderr() as library_messages:
        try:
            image = cv2.imdecode(buf, flags)
        except cv2.error:
            image = None
    if image is None:
        said = ' '.join(library_messages.text().split())
        raise ImageDecodeError(
            f'cannot decode {buf.size} bytes of {header.codec.upper()} data declaring '
            f'{header.width}x{header.height} (format {quoted_input(fmt)})'
            + (f'; the decoder said {quoted_input(said, 200)}' if said else '')
            + '. The data is truncated or corrupt: check the publisher, or subscribe to the '
            'raw image topic instead.', kind='decode')
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 2:
        if image.dtype not in (np.uint8, np.uint16):
            image = image.astype(np.uint8)
        return DecodedImage(image, 'mono', library_messages.text().strip())
    order = 'rgb' if payload is not None and payload.startswith('rgb') else 'bgr'
    return DecodedImage(image, order, library_messages.text().strip())


def decode_compressed_msg(msg: Any,
                          max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS) -> DecodedImage:
    """
    Decode any object with the ``format`` and ``data`` fields of CompressedImage.

    :raises ImageDecodeError: see :func:`decode_compressed`.
    """
    try:
        fmt, data = msg.format, msg.data
    except AttributeError as err:
        raise ImageDecodeError(
            f'{type(msg).__name__} is not a sensor_msgs/CompressedImage ({err}); use '
            'decode_image_msg for sensor_msgs/Image.', kind='encoding') from err
    return decode_compressed(fmt, data, max_pixels=max_pixels)


def decode_message(msg: Any,
                   max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS) -> Tuple[Any, DecodedImage]:
    """
    Return ``(header, image)`` of whatever the node's subscription delivered.

    That is the serialized bytes of a sensor_msgs/Image (the node subscribes with
    ``raw=True``; parsed into views by :func:`~accel_ai_ros.cdr_image.parse_cdr_image`), such
    an already parsed :class:`~accel_ai_ros.cdr_image.CdrImage`, a sensor_msgs/Image, or a
    sensor_msgs/CompressedImage (told apart by its ``format`` field).

    :raises ImageDecodeError: the message cannot be decoded (see the functions above).
    """
    if isinstance(msg, (bytes, bytearray, memoryview)):
        msg = parse_cdr_image(msg)
    if hasattr(msg, 'format'):
        return msg.header, decode_compressed_msg(msg, max_pixels)
    return msg.header, decode_image_msg(msg, max_pixels)


def encode_image(image: DecodedImage) -> Tuple[str, int, bytes]:
    """
    Return ``(encoding, step, data)`` for publishing ``image`` as a sensor_msgs/Image.

    ``data`` is tightly packed (``step = width * bytes per pixel``) in native byte order, so
    set ``is_bigendian = sys.byteorder == 'big'`` on the message.

    :raises ImageDecodeError: the order is unknown or does not fit the pixel array.
    """
    pixels = image.pixels
    order = image.order
    if order not in _ENCODE:
        raise ImageDecodeError(
            f"cannot encode order '{order}'; use one of {', '.join(_ENCODE)}.")
    want = _ORDER_CHANNELS[order]
    if pixels.ndim not in (2, 3) or image.channels != want:
        raise ImageDecodeError(
            f"pixels of shape {pixels.shape} do not fit order '{order}' ({want} channel(s)); "
            'pass (H, W) for mono and (H, W, C) for colour.')
    encoding = _ENCODE[order]
    native = pixels.dtype.newbyteorder('=')
    if native == np.uint16 and order == 'mono':
        encoding = 'mono16'
    elif native != np.uint8:
        raise ImageDecodeError(
            f"pixels of dtype {pixels.dtype} cannot be published as '{order}'; convert to "
            'uint8 (or uint16 for mono) first.')
    packed = np.ascontiguousarray(pixels, dtype=native)
    step = image.width * want * packed.dtype.itemsize
    return encoding, step, packed.tobytes()
