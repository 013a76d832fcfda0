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
Fuzz a running node over real topics: Image, CompressedImage and serialized Image bytes.

Hypothesis draws the messages (a fixed seed, a budget that fits CI: ``ACCEL_FUZZ_EXAMPLES``,
default 150 per topic); they travel through DDS on loopback to real inference nodes. Every
message the node receives must end as processed, dropped, rejected or failed (nothing lost,
nothing unaccounted), no malformed input may count as *failed* (input problems are
rejections), and afterwards the node still answers valid frames with results.
"""

import os
import time
from typing import Any
from typing import Dict
from typing import List

import cv2
from hostile_images import png_bomb
from hostile_images import png_header_only
from hypothesis import given
from hypothesis import HealthCheck
from hypothesis import seed
from hypothesis import settings
from hypothesis import strategies as st
from models import make_classifier
import numpy as np
import pytest
from rclpy.parameter import Parameter
from rclpy.serialization import serialize_message
from ros_harness import image_msg
from ros_harness import reliable
from ros_harness import RosHarness
from ros_harness import wait_for
from sensor_msgs.msg import CompressedImage
from sensor_msgs.msg import Image

vision_msgs = pytest.importorskip(
    'vision_msgs.msg', reason='vision_msgs is not built: run scripts/setup.sh')

from accel_ai_ros.image_codec import SUPPORTED_ENCODINGS  # noqa: E402
from accel_ai_ros.node import InferenceNode  # noqa: E402

EXAMPLES = int(os.environ.get('ACCEL_FUZZ_EXAMPLES', '150'))
FUZZ_SETTINGS = settings(max_examples=EXAMPLES, deadline=None, database=None,
                         suppress_health_check=list(HealthCheck))
OUTCOMES = ('processed', 'rejected', 'failed')
RNG = np.random.default_rng(5)
VALID_RGB = RNG.integers(0, 255, (24, 32, 3), dtype=np.uint8)


def _encoded(ext: str) -> bytes:
    ok, data = cv2.imencode(ext, VALID_RGB)
    assert ok
    return data.tobytes()


SEED_IMAGES = [_encoded('.jpg'), _encoded('.png'), _encoded('.webp'), _encoded('.tiff'),
               _encoded('.bmp'), png_header_only(100000, 100000), png_header_only(9000, 9000)]
ENCODINGS = st.one_of(st.sampled_from(SUPPORTED_ENCODINGS),
                      st.text(max_size=40), st.sampled_from(['rgb16', '32FC1', 'RGB8']))
U32 = st.one_of(st.integers(0, 80), st.sampled_from([2**31, 2**32 - 1, 65536]))


class FuzzedNode:
    """An inference node with a publisher to its input topic and a results collector."""

    def __init__(self, ros: RosHarness, model: str, transport: str, name: str) -> None:
        ns = f'/fuzz{os.getpid()}_{name}'
        overrides = [Parameter(k, value=v) for k, v in {
            'engines.fp32': model, 'resize_mode': 'letterbox', 'task': 'classification',
            'input_transport': transport, 'max_image_pixels': 4_000_000}.items()]
        self.node = ros.add(InferenceNode(namespace=ns, context=ros.context,
                                          parameter_overrides=overrides))
        helper = ros.node(f'fuzzer_{name}')
        kind = CompressedImage if transport == 'compressed' else Image
        topic = f'{ns}/image/compressed' if transport == 'compressed' else f'{ns}/image'
        self.pub = helper.create_publisher(kind, topic, reliable(50))
        self.results: List[Any] = []
        helper.create_subscription(vision_msgs.Classification,
                                   f'{ns}/inference_node/results',
                                   self.results.append, reliable())
        assert wait_for(lambda: self.pub.get_subscription_count() > 0)

    def send(self, msg: Any) -> None:
        self.pub.publish(msg)
        time.sleep(0.003)   # best-effort input: a pace DDS keeps up with on a loaded machine

    def settle(self) -> Dict[str, int]:
        """Wait until every received frame has an outcome and no more arrive; return counts."""
        counters = self.node.counters
        last = -1
        for _ in range(200):
            snap = counters.snapshot()
            if counters.unaccounted() == 0 and snap['received'] == last:
                return snap
            last = snap['received']
            time.sleep(0.1)
        return counters.snapshot()


@pytest.fixture(scope='module')
def nodes(tmp_path_factory: pytest.TempPathFactory):
    """Yield one node per input transport, each with its fuzzing publisher."""
    model = str(make_classifier(tmp_path_factory.mktemp('fuzz') / 'model.onnx'))
    ros = RosHarness()
    try:
        yield {'raw': FuzzedNode(ros, model, 'raw', 'raw'),
               'compressed': FuzzedNode(ros, model, 'compressed', 'compressed')}
    finally:
        ros.close()


def check_accounted_and_alive(fuzzed: FuzzedNode, valid: Any, bad: Any) -> None:
    """Assert the counter invariant and that valid frames still get results."""
    fuzzed.send(bad)
    counts = fuzzed.settle()
    outcomes = sum(v for k, v in counts.items() if k in OUTCOMES or k.startswith('dropped'))
    assert counts['received'] == outcomes, counts
    assert counts['failed'] == 0, counts
    assert counts['rejected'] > 0, counts
    before = len(fuzzed.results)
    for _ in range(3):
        fuzzed.send(valid)
    assert wait_for(lambda: len(fuzzed.results) > before, timeout=10.0), counts


@seed(19)
@FUZZ_SETTINGS
@given(encoding=ENCODINGS, height=U32, width=U32, step=U32, big=st.integers(0, 255),
       size=st.integers(0, 12000), frame_id=st.text(max_size=30))
def test_fuzzed_image_fields(nodes, encoding, height, width, step, big, size,
                             frame_id) -> None:
    msg = Image(encoding=encoding, height=height, width=width, step=step,
                is_bigendian=big, data=RNG.integers(0, 255, size, dtype=np.uint8).tobytes())
    msg.header.frame_id = frame_id
    nodes['raw'].send(msg)


@seed(19)
@FUZZ_SETTINGS
@given(edits=st.lists(st.tuples(st.integers(0, 3000), st.integers(0, 255)), max_size=10),
       cut=st.integers(0, 3000), tail=st.binary(max_size=64))
def test_fuzzed_serialized_image_bytes(nodes, edits, cut, tail) -> None:
    wire = bytearray(serialize_message(image_msg(VALID_RGB, 'rgb8', frame_id='fuzz')))
    for offset, value in edits:
        if offset < len(wire):
            wire[offset] = value
    if cut:
        wire = wire[:cut]
    nodes['raw'].send(bytes(wire + tail))


@seed(19)
@FUZZ_SETTINGS
@given(base=st.sampled_from(range(len(SEED_IMAGES))),
       edits=st.lists(st.tuples(st.integers(0, 4000), st.integers(0, 255)), max_size=8),
       cut=st.integers(0, 4000), noise=st.binary(max_size=200),
       fmt=st.one_of(st.sampled_from(['jpeg', 'png', '', 'rgb8; jpeg compressed bgr8',
                                      '16UC1; compressedDepth png']), st.text(max_size=30)))
def test_fuzzed_compressed_images(nodes, base, edits, cut, noise, fmt) -> None:
    data = bytearray(SEED_IMAGES[base])
    for offset, value in edits:
        if offset < len(data):
            data[offset] = value
    if cut:
        data = data[:cut]
    nodes['compressed'].send(CompressedImage(format=fmt, data=bytes(data) + noise))


def test_raw_node_accounts_for_every_frame_and_stays_alive(nodes) -> None:
    check_accounted_and_alive(nodes['raw'], image_msg(VALID_RGB, 'rgb8'),
                              Image(encoding='rgb8', height=4, width=4, step=12, data=b'x'))


def test_compressed_node_accounts_for_every_frame_and_stays_alive(nodes) -> None:
    check_accounted_and_alive(nodes['compressed'],
                              CompressedImage(format='jpeg', data=SEED_IMAGES[0]),
                              CompressedImage(format='png', data=png_bomb(20000, 20000)))


def test_nothing_was_published_for_a_rejected_frame(nodes) -> None:
    for fuzzed in nodes.values():
        counts = fuzzed.settle()
        assert len(fuzzed.results) <= counts['processed'], counts
