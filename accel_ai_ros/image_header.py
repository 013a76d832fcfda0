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
Read a compressed image's size from its header, before anything is decoded.

A 2.6 MB PNG can declare 30000x30000 pixels: decoding it first and looking afterwards costs
2.7 GB and twenty seconds. :func:`read_compressed_header` reads only the few bytes that
declare the size (PNG ``IHDR``, JPEG ``SOFn``, the first TIFF directory, WebP's ``VP8``,
``VP8L`` or ``VP8X`` chunk, BMP's info header) and :func:`check_image_size` refuses what is
larger than the node allows, so the decoder only ever allocates what was allowed. Data in
any other format is refused: OpenCV would guess its codec, and nothing would bound it.

Free of rclpy and of OpenCV; every refusal is an :class:`~accel_ai_ros.errors.ImageDecodeError`
whose ``kind`` is ``'too_large'`` or ``'bad_header'``.
"""

from dataclasses import dataclass
import struct

from accel_ai_ros.errors import ImageDecodeError

#: Default of the ``max_image_pixels`` parameter: 16 Mi pixels (4096x4096; 4K UHD and 12 MP
#: fit). Decoding takes 3 bytes a pixel for colour: at most 50 MB at this default.
DEFAULT_MAX_IMAGE_PIXELS = 1 << 24
#: OpenCV's own limits (``OPENCV_IO_MAX_IMAGE_WIDTH``, ``_HEIGHT``, ``_PIXELS``): past them
#: imdecode fails with an assertion.
OPENCV_MAX_SIDE = 1 << 20
OPENCV_MAX_PIXELS = 1 << 30
#: A real JPEG has a handful of segments before its frame header and about ten scans; a
#: hostile one can hold thousands, each a full pass over the image in the decoder.
MAX_JPEG_SEGMENTS = 1000
MAX_JPEG_SCANS = 100
HEADER_CODECS = ('jpeg', 'png', 'tiff', 'webp', 'bmp')

_PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'
# JPEG start-of-frame markers: C0..CF except DHT (C4), JPG (C8) and DAC (CC).
_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# PNG colour type -> channels before any transform.
_PNG_CHANNELS = {0: 1, 2: 3, 3: 3, 4: 2, 6: 4}


@dataclass(frozen=True)
class CompressedHeader:
    """What a compressed image declares about itself: codec, size and channel count."""

    codec: str
    width: int
    height: int
    #: Channels the data declares (1 means grey: decode unchanged to keep 16-bit depth).
    channels: int

    @property
    def pixels(self) -> int:
        """Return width times height."""
        return self.width * self.height


def _bad(codec: str, why: str) -> ImageDecodeError:
    return ImageDecodeError(
        f'{codec} header is unreadable: {why}; the data is truncated or corrupt. Check the '
        'publisher, or subscribe to the raw image topic instead.', kind='bad_header')


def check_image_size(width: int, height: int, max_pixels: int, what: str) -> None:
    """
    Refuse an image of ``width`` x ``height`` over ``max_pixels`` or over OpenCV's limits.

    ``what`` names the image in the message (e.g. ``'PNG'`` or ``'rgb8 Image'``).

    :raises ImageDecodeError: with ``kind='too_large'``.
    """
    pixels = int(width) * int(height)
    if pixels > max_pixels:
        raise ImageDecodeError(
            f'{what} declares {width}x{height} = {pixels} pixels, over max_image_pixels = '
            f'{max_pixels}; refused before decoding. Lower the camera resolution, or raise '
            'max_image_pixels if the camera really sends images this large.', kind='too_large')
    if width > OPENCV_MAX_SIDE or height > OPENCV_MAX_SIDE or pixels > OPENCV_MAX_PIXELS:
        raise ImageDecodeError(
            f'{what} declares {width}x{height} pixels; OpenCV decodes at most '
            f'{OPENCV_MAX_SIDE} pixels a side and {OPENCV_MAX_PIXELS} in all. Check the '
            'publisher.', kind='too_large')


def _png(data: bytes) -> CompressedHeader:
    if len(data) < 26 or data[12:16] != b'IHDR':
        raise _bad('PNG', 'no IHDR chunk right after the signature')
    width, height = struct.unpack_from('>II', data, 16)
    colour = data[25]
    if colour not in _PNG_CHANNELS:
        raise _bad('PNG', f'colour type {colour} is not one of 0, 2, 3, 4, 6')
    return CompressedHeader('png', width, height, _PNG_CHANNELS[colour])


def _jpeg(data: bytes) -> CompressedHeader:
    pos, size = 2, len(data)
    for _ in range(MAX_JPEG_SEGMENTS):
        while pos < size and data[pos] == 0xFF and pos + 1 < size and data[pos + 1] == 0xFF:
            pos += 1                                        # fill bytes before a marker
        if pos + 4 > size or data[pos] != 0xFF:
            raise _bad('JPEG', f'no frame header (SOFn marker) before byte {pos}')
        marker = data[pos + 1]
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:        # stand-alone markers
            pos += 2
            continue
        if marker in (0xD9, 0xDA):
            raise _bad('JPEG', 'image data starts before the frame header (SOFn)')
        length = (data[pos + 2] << 8) | data[pos + 3]
        if marker in _SOF_MARKERS:
            if pos + 10 > size or length < 8:
                raise _bad('JPEG', 'the frame header (SOFn) is cut short')
            height, width = struct.unpack_from('>HH', data, pos + 5)
            if height == 0:
                raise _bad('JPEG', 'the frame header declares height 0 (DNL marker), '
                           'which OpenCV cannot decode')
            scans = data.count(b'\xff\xda', pos)
            if scans > MAX_JPEG_SCANS:
                raise ImageDecodeError(
                    f'JPEG has {scans} scans (a camera writes about 10, at most '
                    f'{MAX_JPEG_SCANS} are decoded): each costs a pass over the whole image. '
                    'Check the publisher.', kind='too_large')
            return CompressedHeader('jpeg', width, height, data[pos + 9])
        if length < 2:
            raise _bad('JPEG', f'segment 0x{marker:02X} at byte {pos} has length {length}')
        pos += 2 + length
    raise _bad('JPEG', f'more than {MAX_JPEG_SEGMENTS} segments before the frame header')


def _tiff(data: bytes) -> CompressedHeader:
    order = '<' if data[:2] == b'II' else '>'
    if struct.unpack_from(order + 'H', data, 2)[0] == 43:
        raise ImageDecodeError(
            'BigTIFF is not accepted on an image topic; send PNG or JPEG.', kind='bad_header')
    if len(data) < 8:
        raise _bad('TIFF', 'the file header is cut short')
    ifd = struct.unpack_from(order + 'I', data, 4)[0]
    if ifd + 2 > len(data):
        raise _bad('TIFF', f'the first directory at byte {ifd} is past the end')
    count = struct.unpack_from(order + 'H', data, ifd)[0]
    fields = {}
    for index in range(count):
        entry = ifd + 2 + 12 * index
        if entry + 12 > len(data):
            raise _bad('TIFF', 'the first directory is cut short')
        tag, kind = struct.unpack_from(order + 'HH', data, entry)
        if tag in (256, 257, 277):
            value_format = order + ('H' if kind == 3 else 'I')
            fields[tag] = struct.unpack_from(value_format, data, entry + 8)[0]
    if 256 not in fields or 257 not in fields:
        raise _bad('TIFF', 'the first directory has no ImageWidth or ImageLength')
    return CompressedHeader('tiff', fields[256], fields[257], fields.get(277, 1))


def _webp(data: bytes) -> CompressedHeader:
    chunk = data[12:16]
    if chunk == b'VP8 ' and len(data) >= 30 and data[23:26] == b'\x9d\x01\x2a':
        width, height = struct.unpack_from('<HH', data, 26)
        return CompressedHeader('webp', width & 0x3FFF, height & 0x3FFF, 3)
    if chunk == b'VP8L' and len(data) >= 25 and data[20] == 0x2F:
        bits = struct.unpack_from('<I', data, 21)[0]
        return CompressedHeader('webp', (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1, 4)
    if chunk == b'VP8X' and len(data) >= 30:
        width = int.from_bytes(data[24:27], 'little') + 1
        height = int.from_bytes(data[27:30], 'little') + 1
        return CompressedHeader('webp', width, height, 4)
    raise _bad('WebP', 'no VP8, VP8L or VP8X chunk first')


def _bmp(data: bytes) -> CompressedHeader:
    if len(data) < 26:
        raise _bad('BMP', 'the info header is cut short')
    if struct.unpack_from('<I', data, 14)[0] == 12:
        width, height = struct.unpack_from('<HH', data, 18)
        return CompressedHeader('bmp', width, height, 3)
    width, height = struct.unpack_from('<ii', data, 18)
    return CompressedHeader('bmp', abs(width), abs(height), 3)


def _sniff(head: bytes) -> str:
    if head.startswith(_PNG_SIGNATURE):
        return 'png'
    if head.startswith(b'\xff\xd8\xff'):
        return 'jpeg'
    if head[:4] in (b'II*\x00', b'MM\x00*', b'II+\x00', b'MM\x00+'):
        return 'tiff'
    if head[:4] == b'RIFF' and head[8:12] == b'WEBP':
        return 'webp'
    if head[:2] == b'BM':
        return 'bmp'
    return ''


def read_compressed_header(data: bytes) -> CompressedHeader:
    """
    Return the codec, size and channels a compressed image declares, reading only its header.

    :raises ImageDecodeError: the data is not JPEG, PNG, TIFF, WebP or BMP, or its header
        is cut short or inconsistent (``kind='bad_header'``).
    """
    codec = _sniff(bytes(data[:16]))
    if not codec:
        raise ImageDecodeError(
            f'CompressedImage data ({len(data)} bytes) is not JPEG, PNG, TIFF, WebP or BMP '
            '(its first bytes match none of their signatures); the node decodes nothing '
            'whose size it cannot read first. Send JPEG or PNG.', kind='bad_header')
    reader = {'png': _png, 'jpeg': _jpeg, 'tiff': _tiff, 'webp': _webp, 'bmp': _bmp}[codec]
    return reader(data)
