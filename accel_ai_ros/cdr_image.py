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
Read a serialized sensor_msgs/msg/Image without copying its pixels.

rclpy's generated conversion of a received Image copies the pixel data twice after the C
deserialisation. A subscription created with ``raw=True`` hands the callback the serialized
CDR bytes instead; :func:`parse_cdr_image` reads the small fields from them and returns the
pixels as a ``memoryview`` slice of those bytes. The result has the fields of
sensor_msgs/Image, so :func:`accel_ai_ros.image_codec.decode_image_msg` takes it unchanged.

Wire format (XCDR1 as rmw_fastrtps and rmw_cyclonedds write it): a 4-byte encapsulation
header (big-endian representation id, then 2 option bytes), then the fields, each aligned to
its size relative to the first byte after the encapsulation header::

    header.stamp.sec int32, header.stamp.nanosec uint32, header.frame_id string,
    height uint32, width uint32, encoding string, is_bigendian uint8, step uint32,
    data sequence<uint8>

A string is a uint32 length that counts the terminating NUL, then the bytes and the NUL; a
sequence is a uint32 count, then the bytes. This module imports no rclpy: only
:attr:`CdrImage.header` and :meth:`CdrImage.to_header` import std_msgs, when called.
"""

from dataclasses import dataclass
from functools import cached_property
import struct
from typing import Any
from typing import Dict
from typing import Tuple

from accel_ai_ros.errors import ImageDecodeError

# Representation id (always big-endian on the wire) -> byte order of the payload. PLAIN_CDR2
# lays this type out exactly like XCDR1: no member is wider than 4 bytes, the type is final
# and the only sequence holds a primitive type, so no DHEADER appears.
ENCAPSULATIONS: Dict[int, str] = {
    0x0000: '>',  # CDR_BE
    0x0001: '<',  # CDR_LE
    0x0006: '>',  # PLAIN_CDR2_BE
    0x0007: '<',  # PLAIN_CDR2_LE
}
ENCAPSULATION_SIZE = 4
_STAMP = {order: struct.Struct(order + 'iI') for order in ('<', '>')}
_U32 = {order: struct.Struct(order + 'I') for order in ('<', '>')}
_FIX = ('; the publisher sent a malformed message, or the topic does not carry '
        'sensor_msgs/msg/Image (check with `ros2 topic info -v`).')


@dataclass(frozen=True)
class CdrImage:
    """
    The fields of one serialized sensor_msgs/Image; ``data`` is a view of the received bytes.

    ``data`` is a ``memoryview`` slice of the buffer given to :func:`parse_cdr_image`
    (read-only for ``bytes``): it keeps that buffer alive and copies nothing. ``header`` is
    a real ``std_msgs.msg.Header``, built on first use and then cached; :meth:`to_header`
    returns a new one on every call.
    """

    stamp_sec: int
    stamp_nanosec: int
    frame_id: str
    height: int
    width: int
    encoding: str
    is_bigendian: int
    step: int
    data: memoryview

    @cached_property
    def header(self) -> Any:
        """Return the message's std_msgs/Header (built once, shared by later calls)."""
        return self.to_header()

    def to_header(self) -> Any:
        """Return a new std_msgs/Header equal to the message's header."""
        from builtin_interfaces.msg import Time
        from std_msgs.msg import Header
        return Header(stamp=Time(sec=self.stamp_sec, nanosec=self.stamp_nanosec),
                      frame_id=self.frame_id)

    @property
    def stamp_ns(self) -> int:
        """Return the header stamp in nanoseconds."""
        return self.stamp_sec * 1_000_000_000 + self.stamp_nanosec


def _error(message: str) -> ImageDecodeError:
    return ImageDecodeError('serialized sensor_msgs/Image: ' + message + _FIX)


def _align4(pos: int) -> int:
    """Align an absolute offset to 4 bytes relative to the payload start (4 bytes in)."""
    rel = pos - ENCAPSULATION_SIZE
    return ENCAPSULATION_SIZE + ((rel + 3) & ~3)


def _read_u32(view: memoryview, pos: int, u32: struct.Struct, what: str) -> Tuple[int, int]:
    """Return ``(value, next offset)`` of the aligned uint32 ``what`` at or after ``pos``."""
    pos = _align4(pos)
    if pos + 4 > len(view):
        raise _error(f'{len(view)} bytes end before {what} (needs bytes {pos}..{pos + 3}): '
                     'the message is truncated')
    return u32.unpack_from(view, pos)[0], pos + 4


def _read_string(view: memoryview, pos: int, u32: struct.Struct,
                 what: str) -> Tuple[str, int]:
    """Return ``(text, next offset)`` of the CDR string ``what``, decoded like rclpy does."""
    length, pos = _read_u32(view, pos, u32, f'the length of {what}')
    end = pos + length
    if end > len(view):
        raise _error(f'{what} claims {length} bytes at offset {pos} but only '
                     f'{len(view) - pos} remain: the message is truncated or corrupt')
    raw = bytes(view[pos:end])
    # As rclpy: the text ends at the first NUL (a missing terminator is tolerated, as Fast
    # CDR does), and bytes that are not UTF-8 become U+FFFD.
    nul = raw.find(0)
    if nul >= 0:
        raw = raw[:nul]
    return raw.decode('utf-8', 'replace'), end


def _byte_view(buffer: Any) -> memoryview:
    try:
        view = memoryview(buffer)
    except (TypeError, BufferError) as err:
        raise _error(f'a {type(buffer).__name__} is not a byte buffer; pass the bytes a '
                     'raw=True subscription delivers') from err
    if view.format == 'B' and view.ndim == 1 and view.c_contiguous:
        return view
    try:
        return view.cast('B')
    except (TypeError, BufferError) as err:
        raise _error(f'the {type(buffer).__name__} buffer is not C-contiguous') from err


def parse_cdr_image(buffer: Any) -> CdrImage:
    """
    Parse a serialized sensor_msgs/msg/Image (e.g. what a ``raw=True`` subscription receives).

    ``buffer`` is ``bytes`` or any other C-contiguous buffer. Both byte orders are read.
    Only the wire layout is checked here (``data`` may still disagree with
    ``step * height``: :func:`~accel_ai_ros.image_codec.decode_image` checks that). Bytes
    after ``data`` (CDR end padding) are ignored, as rmw does.

    :raises ImageDecodeError: unknown encapsulation, truncated buffer, a length past the end.
    """
    view = _byte_view(buffer)
    size = len(view)
    if size < ENCAPSULATION_SIZE:
        raise _error(f'{size} bytes are fewer than the 4-byte encapsulation header')
    representation = (view[0] << 8) | view[1]
    order = ENCAPSULATIONS.get(representation)
    if order is None:
        raise _error(f'encapsulation id 0x{representation:04x} is not plain CDR (known: '
                     + ', '.join(f'0x{rep:04x}' for rep in ENCAPSULATIONS) + ')')
    u32 = _U32[order]
    pos = ENCAPSULATION_SIZE
    if pos + 8 > size:
        raise _error(f'{size} bytes end inside header.stamp: the message is truncated')
    sec, nanosec = _STAMP[order].unpack_from(view, pos)
    frame_id, pos = _read_string(view, pos + 8, u32, 'header.frame_id')
    height, pos = _read_u32(view, pos, u32, 'height')
    width, pos = _read_u32(view, pos, u32, 'width')
    encoding, pos = _read_string(view, pos, u32, 'encoding')
    if pos >= size:
        raise _error(f'{size} bytes end before is_bigendian: the message is truncated')
    is_bigendian = view[pos]
    step, pos = _read_u32(view, pos + 1, u32, 'step')
    count, pos = _read_u32(view, pos, u32, 'the length of data')
    end = pos + count
    if end > size:
        raise _error(f'data claims {count} bytes at offset {pos} but only {size - pos} '
                     'remain: the message is truncated or corrupt')
    return CdrImage(stamp_sec=sec, stamp_nanosec=nanosec, frame_id=frame_id, height=height,
                    width=width, encoding=encoding, is_bigendian=is_bigendian, step=step,
                    data=view[pos:end])
