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

"""Hostile images made in the test: decompression bombs built without touching their pixels."""

import struct
import zlib


class _BitWriter:
    """Deflate's bit order: fields least significant bit first, Huffman codes MSB first."""

    def __init__(self) -> None:
        self.value = 0
        self.count = 0

    def bits(self, value: int, n: int) -> None:
        self.value |= value << self.count
        self.count += n

    def code(self, code: int, n: int) -> None:
        self.bits(int(format(code, f'0{n}b')[::-1], 2), n)

    def zero_literal(self) -> None:
        self.code(0b00110000, 8)           # literal 0 (fixed Huffman)

    def zero_run(self) -> None:
        self.code(0b11000101, 8)           # length 258 (length code 285)
        self.bits(0, 5)                    # distance 1 (distance code 0)

    def to_bytes(self) -> bytes:
        return self.value.to_bytes((self.count + 7) // 8, 'little')


def zlib_zeros(total: int) -> bytes:
    """
    Return a valid zlib stream that inflates to ``total`` (at least 259) zero bytes.

    One fixed-Huffman block of 258-byte back-references, written 13 bytes per 8 references:
    0.1 s and 5.7 MB for 900 MB of zeros, where zlib itself needs seconds.
    """
    if total < 259:
        raise ValueError('zlib_zeros needs at least 259 bytes')
    runs, rest = divmod(total - 1, 258)
    head = _BitWriter()
    head.bits(1, 1)
    head.bits(1, 2)                        # the last block, fixed Huffman codes
    head.zero_literal()
    head.zero_run()                        # 24 bits: the runs below start on a byte
    period = _BitWriter()
    for _ in range(8):
        period.zero_run()                  # 104 bits: 13 bytes
    tail = _BitWriter()
    for _ in range((runs - 1) % 8):
        tail.zero_run()
    for _ in range(rest):
        tail.zero_literal()
    tail.code(0, 7)                        # end of block
    adler = ((total % 65521) << 16) | 1    # Adler-32 of zeros: a = 1, b = total
    return (b'\x78\x01' + head.to_bytes() + period.to_bytes() * ((runs - 1) // 8)
            + tail.to_bytes() + struct.pack('>I', adler))


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack('>I', len(body)) + kind + body + struct.pack('>I', zlib.crc32(kind + body))


def png_bomb(width: int, height: int) -> bytes:
    """Return a valid black 8-bit grey PNG of ``width`` x ``height``: a few MB, never inflated."""
    ihdr = struct.pack('>IIBBBBB', width, height, 8, 0, 0, 0, 0)
    return (b'\x89PNG\r\n\x1a\n' + _chunk(b'IHDR', ihdr)
            + _chunk(b'IDAT', zlib_zeros((width + 1) * height)) + _chunk(b'IEND', b''))


def png_header_only(width: int, height: int) -> bytes:
    """Return the 69-byte kind of PNG that declares a size and holds one tiny IDAT."""
    ihdr = struct.pack('>IIBBBBB', width, height, 8, 0, 0, 0, 0)
    return (b'\x89PNG\r\n\x1a\n' + _chunk(b'IHDR', ihdr)
            + _chunk(b'IDAT', zlib.compress(b'\x00' * 4)) + _chunk(b'IEND', b''))
