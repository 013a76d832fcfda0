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

"""Tests of accel_ai_ros.cdr_image: serialized sensor_msgs/Image parsed without a copy."""

import string
import struct
import subprocess
import sys
from typing import Any
from typing import List
from typing import Optional

import numpy as np
import pytest
from rclpy.serialization import deserialize_message
from rclpy.serialization import serialize_message
from ros_harness import reliable
from ros_harness import RosHarness
from ros_harness import wait_for
from sensor_msgs.msg import Image
from std_msgs.msg import Header

from accel_ai_ros.cdr_image import CdrImage
from accel_ai_ros.cdr_image import parse_cdr_image
from accel_ai_ros.errors import ImageDecodeError
from accel_ai_ros.image_codec import decode_image
from accel_ai_ros.image_codec import decode_image_msg
from accel_ai_ros.image_codec import decode_message
from accel_ai_ros.image_codec import SUPPORTED_ENCODINGS

RNG = np.random.default_rng(20260)
FIELDS = ('height', 'width', 'encoding', 'is_bigendian', 'step')


def make_msg(frame_id: str = 'camera', encoding: str = 'bgr8', height: int = 3,
             width: int = 5, channels: int = 3, pad: int = 0, is_bigendian: int = 0,
             sec: int = 12, nanosec: int = 345_678_901,
             data: Optional[bytes] = None) -> Image:
    """Return an Image with random pixels; ``pad`` extra bytes end every row."""
    msg = Image()
    msg.header.frame_id = frame_id
    msg.header.stamp.sec = sec
    msg.header.stamp.nanosec = nanosec
    msg.height, msg.width, msg.encoding = height, width, encoding
    msg.is_bigendian = is_bigendian
    msg.step = width * channels + pad
    if data is None:
        data = RNG.integers(0, 256, size=msg.step * height, dtype=np.uint8).tobytes()
    msg.data = data
    return msg


def cdr_string(text: str, order: str, pos: int) -> bytes:
    """Return padding to 4 (relative to the payload start ``pos``) plus a CDR string."""
    raw = text.encode() + b'\0'
    return b'\xee' * (-pos % 4) + struct.pack(order + 'I', len(raw)) + raw


def serialize(msg: Image, order: str = '>', representation: Optional[int] = None) -> bytes:
    """Serialize ``msg`` by hand in either byte order (rclpy writes native order only)."""
    rep = (0x0000 if order == '>' else 0x0001) if representation is None else representation
    body = struct.pack(order + 'iI', msg.header.stamp.sec, msg.header.stamp.nanosec)
    body += cdr_string(msg.header.frame_id, order, len(body))
    body += b'\xee' * (-len(body) % 4) + struct.pack(order + 'II', msg.height, msg.width)
    body += cdr_string(msg.encoding, order, len(body))
    body += bytes([msg.is_bigendian])
    body += b'\xee' * (-len(body) % 4)
    body += struct.pack(order + 'II', msg.step, len(msg.data)) + bytes(msg.data)
    return struct.pack('>H', rep) + b'\0\0' + body


def assert_same(parsed: CdrImage, msg: Image, buffer: Any) -> None:
    """Check every field of ``parsed`` against ``msg`` and that ``data`` views ``buffer``."""
    for name in FIELDS:
        assert getattr(parsed, name) == getattr(msg, name), name
    assert parsed.stamp_sec == msg.header.stamp.sec
    assert parsed.stamp_nanosec == msg.header.stamp.nanosec
    assert parsed.frame_id == msg.header.frame_id
    assert parsed.header == msg.header
    assert isinstance(parsed.data, memoryview)
    assert bytes(parsed.data) == bytes(msg.data)
    if len(msg.data):
        assert np.shares_memory(np.frombuffer(parsed.data, np.uint8),
                                np.frombuffer(buffer, np.uint8))


def variety() -> List[Image]:
    """Return messages covering every padding case of the two strings and the byte flag."""
    msgs = []
    letters = string.ascii_letters + string.digits
    for enc_len in range(13):
        for id_len in range(10):
            width = 1 + 2 * ((enc_len + id_len) % 4)  # odd widths
            msgs.append(make_msg(
                frame_id=''.join(RNG.choice(list(letters), id_len)),
                encoding=''.join(RNG.choice(list(letters), enc_len)),
                height=1 + id_len % 3, width=width, channels=1 + enc_len % 4,
                pad=(enc_len * id_len) % 7, is_bigendian=(enc_len + id_len) % 2,
                sec=-enc_len, nanosec=999_999_999 - id_len))
    return msgs


def test_round_trip_against_rclpy_serialize_message() -> None:
    for msg in variety():
        buffer = serialize_message(msg)
        parsed = parse_cdr_image(buffer)
        assert_same(parsed, msg, buffer)
        back = deserialize_message(buffer, Image)
        assert parsed.header == back.header
        assert bytes(parsed.data) == bytes(back.data)


@pytest.mark.parametrize('order', ['<', '>'])
def test_both_byte_orders(order: str) -> None:
    for msg in variety():
        buffer = serialize(msg, order)
        assert_same(parse_cdr_image(buffer), msg, buffer)


def test_hand_serializer_agrees_with_rclpy() -> None:
    # The big-endian cases rest on serialize(); rclpy must read its little-endian output.
    for msg in variety():
        assert deserialize_message(serialize(msg, '<'), Image) == msg


@pytest.mark.parametrize('representation', [0x0006, 0x0007])
def test_plain_cdr2_has_the_same_layout(representation: int) -> None:
    msg = make_msg(frame_id='abc', encoding='mono8', channels=1)
    order = '>' if representation == 0x0006 else '<'
    buffer = serialize(msg, order, representation)
    assert_same(parse_cdr_image(buffer), msg, buffer)


def test_empty_image_and_empty_strings() -> None:
    msg = make_msg(frame_id='', encoding='', height=0, width=0, data=b'')
    for buffer in (serialize_message(msg), serialize(msg, '>')):
        parsed = parse_cdr_image(buffer)
        assert_same(parsed, msg, buffer)
        assert len(parsed.data) == 0


def test_zero_string_length_reads_as_empty() -> None:
    # Fast CDR reads a length of 0 (no NUL at all) as the empty string; so do we.
    msg = make_msg(frame_id='', encoding='mono8', channels=1)
    good = serialize(msg, '<')
    # frame_id '' is length 1, NUL, 3 padding bytes (12..19); length 0 leaves height at 16.
    bad = good[:12] + struct.pack('<I', 0) + good[20:]
    parsed = parse_cdr_image(bad)
    assert_same(parsed, msg, bad)
    assert parsed.frame_id == ''


def test_decoding_matches_the_deserialized_message() -> None:
    for encoding in SUPPORTED_ENCODINGS:
        channels = {'rgb8': 3, 'bgr8': 3, '8UC3': 3, 'rgba8': 4, 'bgra8': 4, '8UC4': 4,
                    'mono16': 2, '16UC1': 2, 'yuv422': 2, 'uyvy': 2, 'yuv422_yuy2': 2,
                    'yuyv': 2}.get(encoding, 1)  # bytes per pixel
        for big in (0, 1):
            wide = encoding in ('mono16', '16UC1')   # 16-bit rows start on an even byte
            msg = make_msg(frame_id='cam', encoding=encoding, height=4, width=6,
                           channels=channels, pad=4 if wide else 3, is_bigendian=big)
            buffer = serialize_message(msg)
            parsed = parse_cdr_image(buffer)
            ours = decode_image_msg(parsed)
            theirs = decode_image_msg(deserialize_message(buffer, Image))
            assert ours.order == theirs.order
            assert ours.pixels.dtype == theirs.pixels.dtype
            np.testing.assert_array_equal(ours.pixels, theirs.pixels)
            same = decode_image(parsed.encoding, parsed.height, parsed.width, parsed.step,
                                bool(parsed.is_bigendian), parsed.data)
            np.testing.assert_array_equal(same.pixels, theirs.pixels)


def test_decoded_pixels_view_the_received_bytes() -> None:
    msg = make_msg(encoding='bgr8', height=8, width=7, pad=5)
    buffer = serialize_message(msg)
    image = decode_image_msg(parse_cdr_image(buffer))
    assert np.shares_memory(image.pixels, np.frombuffer(buffer, np.uint8))
    assert not image.pixels.flags.writeable  # bytes are immutable: a view stays read-only


def test_decode_message_takes_bytes_or_an_already_parsed_image() -> None:
    # The intra-process filter parses the DDS bytes once and hands the parsed image on.
    msg = make_msg(frame_id='cam', encoding='bgr8', height=4, width=5, pad=2)
    buffer = serialize_message(msg)
    header, image = decode_message(parse_cdr_image(buffer))
    same_header, same = decode_message(buffer)
    assert header == same_header == msg.header
    assert image.order == same.order
    np.testing.assert_array_equal(image.pixels, same.pixels)


def test_header_is_a_real_std_msgs_header() -> None:
    msg = make_msg(frame_id='optical', sec=1_700_000_000, nanosec=5)
    parsed = parse_cdr_image(serialize_message(msg))
    assert isinstance(parsed.header, Header)
    assert parsed.header is parsed.header  # cached
    fresh = parsed.to_header()
    assert fresh == msg.header and fresh is not parsed.header
    assert parsed.stamp_ns == 1_700_000_000 * 1_000_000_000 + 5
    # What the node publishes: a new Image (and result messages) carrying the input header.
    out = Image(header=parsed.header, height=1, width=1, encoding='mono8', step=1, data=b'x')
    assert out.header == msg.header


def test_other_buffer_types() -> None:
    msg = make_msg()
    buffer = serialize_message(msg)
    for other in (bytearray(buffer), memoryview(buffer), np.frombuffer(buffer, np.uint8)):
        assert_same(parse_cdr_image(other), msg, other)
    as_u32 = np.frombuffer(buffer + b'\0' * (-len(buffer) % 4), np.uint32)
    assert_same(parse_cdr_image(as_u32), msg, as_u32)  # cast to bytes, still no copy
    with pytest.raises(ImageDecodeError, match='not a byte buffer'):
        parse_cdr_image(msg)
    with pytest.raises(ImageDecodeError, match='not C-contiguous'):
        parse_cdr_image(np.frombuffer(buffer, np.uint8)[::2])


def test_non_utf8_and_embedded_nul_strings_read_like_rclpy() -> None:
    buffer = bytearray(serialize(make_msg(frame_id='abcdef'), '<'))
    buffer[16] = 0xff  # frame_id starts at 4 + 12
    buffer[19] = 0x00
    back = deserialize_message(bytes(buffer), Image)
    parsed = parse_cdr_image(bytes(buffer))
    assert parsed.frame_id == back.header.frame_id == '\ufffdbc'


@pytest.mark.parametrize('order', ['<', '>'])
def test_every_truncation_is_rejected(order: str) -> None:
    for msg in (make_msg(frame_id='ab', encoding='rgb8', width=3),
                make_msg(frame_id='', encoding='', height=0, width=0, data=b'')):
        buffer = serialize(msg, order)
        for size in range(len(buffer)):
            with pytest.raises(ImageDecodeError, match='serialized sensor_msgs/Image'):
                parse_cdr_image(buffer[:size])


@pytest.mark.parametrize('representation', [0x0002, 0x0003, 0x0008, 0x000a, 0x0100, 0xffff])
def test_unknown_encapsulation_is_rejected(representation: int) -> None:
    buffer = serialize(make_msg(), '<', representation)
    with pytest.raises(ImageDecodeError, match=f'0x{representation:04x}'):
        parse_cdr_image(buffer)


def corrupt(buffer: bytes, offset: int, value: int) -> bytes:
    """Return ``buffer`` with the little-endian uint32 at ``offset`` set to ``value``."""
    return buffer[:offset] + struct.pack('<I', value) + buffer[offset + 4:]


def test_lengths_past_the_end_are_rejected() -> None:
    msg = make_msg(frame_id='abc', encoding='bgr8', height=2, width=2)
    buffer = serialize(msg, '<')
    # Offsets: stamp 4..11, frame_id length 12, 'abc\0' 16..19, height 20, width 24,
    # encoding length 28, 'bgr8\0' 32..36, is_bigendian 37, step 40, data length 44.
    assert parse_cdr_image(buffer).frame_id == 'abc'
    cases = {12: 'header.frame_id', 28: 'encoding', 44: 'data'}
    for offset, what in cases.items():
        for value in (len(buffer), 2 ** 32 - 1):
            with pytest.raises(ImageDecodeError, match=f'{what} claims'):
                parse_cdr_image(corrupt(buffer, offset, value))
    with pytest.raises(ImageDecodeError, match='data claims 13 bytes'):
        parse_cdr_image(corrupt(buffer, 44, len(msg.data) + 1))
    # A data length that is too short is the codec's business: step * height is checked there.
    short = parse_cdr_image(corrupt(buffer, 44, 5))
    assert len(short.data) == 5
    with pytest.raises(ImageDecodeError, match='truncated'):
        decode_image_msg(short)


def test_trailing_bytes_are_ignored() -> None:
    msg = make_msg()
    buffer = serialize_message(msg) + b'\0\0\0'
    assert_same(parse_cdr_image(buffer), msg, buffer)


def test_module_imports_no_rclpy() -> None:
    code = ('import sys, accel_ai_ros.cdr_image; '
            'sys.exit(any(m.split(".")[0] in ("rclpy", "std_msgs", "sensor_msgs") '
            'for m in sys.modules))')
    assert subprocess.run([sys.executable, '-c', code], check=False).returncode == 0


def test_raw_subscription_delivers_parsable_bytes() -> None:
    received: List[Any] = []
    with RosHarness() as ros:
        node = ros.node('cdr_image_test')
        node.create_subscription(Image, 'cdr_image_test/image', received.append, reliable(),
                                 raw=True)
        pub = node.create_publisher(Image, 'cdr_image_test/image', reliable())
        msg = make_msg(frame_id='raw_cam', encoding='rgb8', height=24, width=31, pad=3)
        assert wait_for(lambda: pub.get_subscription_count() > 0)

        def publish_until_received() -> bool:
            if not received:
                pub.publish(msg)
            return bool(received)
        assert wait_for(publish_until_received, timeout=10.0, period=0.1)
    buffer = received[0]
    assert isinstance(buffer, bytes)
    parsed = parse_cdr_image(buffer)
    assert_same(parsed, msg, buffer)
    image = decode_image_msg(parsed)
    np.testing.assert_array_equal(
        image.pixels, decode_image_msg(deserialize_message(buffer, Image)).pixels)
