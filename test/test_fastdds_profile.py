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

"""The Fast DDS profile in config/: loopback only, and full-HD frames between processes.

With Fast DDS's defaults, 640x480 and 1920x1080 bgr8 images sent between two processes are
lost (they exceed the default 512 KB shared-memory segment and the UDP fallback drops
fragments). config/fastdds_localhost.xml gives shared memory a 32 MB segment and limits UDP to
127.0.0.1; test/conftest.py points FASTDDS_DEFAULT_PROFILES_FILE at it before rclpy loads.
"""

import os
from pathlib import Path
import re
import subprocess
import sys
import textwrap
import time
from typing import Dict
from typing import List
import xml.etree.ElementTree as ET

import pytest

REPO = Path(__file__).resolve().parents[1]
PROFILE = REPO / 'config' / 'fastdds_localhost.xml'
NS = {'dds': 'http://www.eprosima.com'}
WIDTH, HEIGHT = 1920, 1080
FRAMES = 30
RATE_HZ = 12.0
# Measured: every frame arrives (30/30) with the profile; without it, none do.
MIN_RECEIVED = 27

PUBLISHER = textwrap.dedent("""
    import array
    import sys
    import time

    import rclpy
    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import Image

    topic, width, height, frames, rate = sys.argv[1], *map(int, sys.argv[2:5]), float(sys.argv[5])
    rclpy.init()
    node = rclpy.create_node('fastdds_profile_probe_pub')
    pub = node.create_publisher(Image, topic, qos_profile_sensor_data)
    deadline = time.monotonic() + 10.0
    while pub.get_subscription_count() < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    if pub.get_subscription_count() < 1:
        print('publisher: no subscriber discovered', flush=True)
        sys.exit(3)
    sys.stdin.readline()  # 'go': the subscriber has discovered this publisher too
    msg = Image()
    msg.width, msg.height, msg.encoding, msg.step = width, height, 'bgr8', width * 3
    msg.data = array.array('B', bytes(range(256)) * (width * height * 3 // 256))
    for index in range(frames):
        msg.header.frame_id = str(index)
        msg.header.stamp = node.get_clock().now().to_msg()
        pub.publish(msg)
        time.sleep(1.0 / rate)
    print('publisher: sent %d frames' % frames, flush=True)
    sys.stdin.readline()  # 'done': the subscriber has what arrived
    node.destroy_node()
    rclpy.shutdown()
""")


def _profile_root() -> ET.Element:
    return ET.parse(PROFILE).getroot()


def test_profile_parses_and_stays_on_loopback() -> None:
    assert PROFILE.is_file(), f'{PROFILE} is missing'
    root = _profile_root()
    assert root.tag in ('{http://www.eprosima.com}dds', '{http://www.eprosima.com}profiles')
    transports: Dict[str, ET.Element] = {}
    for desc in root.iterfind('.//dds:transport_descriptor', NS):
        transports[desc.findtext('dds:transport_id', namespaces=NS) or ''] = desc
    kinds = {(d.findtext('dds:type', namespaces=NS) or ''): d for d in transports.values()}
    assert set(kinds) == {'SHM', 'UDPv4'}, f'transports: {sorted(kinds)}'
    assert int(kinds['SHM'].findtext('dds:segment_size', namespaces=NS) or 0) >= 32 * 2**20
    allow = [a.text for a in kinds['UDPv4'].iterfind('dds:interfaceWhiteList/dds:address', NS)]
    assert allow == ['127.0.0.1']

    defaults = [p for p in root.iterfind('.//dds:participant', NS)
                if p.get('is_default_profile') == 'true']
    assert len(defaults) == 1, 'exactly one default participant profile'
    rtps = defaults[0].find('dds:rtps', NS)
    assert rtps is not None
    assert (rtps.findtext('dds:useBuiltinTransports', namespaces=NS) or '').strip() == 'false'
    used = [t.text for t in rtps.iterfind('dds:userTransports/dds:transport_id', NS)]
    assert sorted(used) == sorted(transports), 'the default profile uses both transports'

    text = PROFILE.read_text(encoding='utf-8')
    addresses = set(re.findall(r'\b\d{1,3}(?:\.\d{1,3}){3}\b', text))
    assert addresses == {'127.0.0.1'}, f'addresses other than loopback: {addresses}'
    for element in root.iter():
        if element.tag.lower().endswith('address'):
            assert (element.text or '').strip() == '127.0.0.1', f'{element.tag}: {element.text}'


def test_full_hd_frames_cross_processes() -> None:
    rclpy = pytest.importorskip('rclpy', reason='rclpy is not installed')
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import Image

    if os.environ.get('FASTDDS_DEFAULT_PROFILES_FILE') != str(PROFILE):
        pytest.skip('FASTDDS_DEFAULT_PROFILES_FILE does not point at config/ (set by conftest)')
    topic = f'/accel_fastdds_probe_{os.getpid()}'
    received: List[int] = []
    sizes: List[int] = []

    def on_image(msg: Image) -> None:
        received.append(int(msg.header.frame_id))
        sizes.append(len(msg.data))

    context = rclpy.Context()
    rclpy.init(context=context)
    node = rclpy.create_node('fastdds_profile_probe_sub', context=context)
    executor = SingleThreadedExecutor(context=context)
    proc = None
    try:
        node.create_subscription(Image, topic, on_image, qos_profile_sensor_data)
        executor.add_node(node)
        proc = subprocess.Popen(
            [sys.executable, '-c', PUBLISHER, topic, str(WIDTH), str(HEIGHT), str(FRAMES),
             str(RATE_HZ)], env=dict(os.environ), stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert proc.stdin is not None
        # Both sides matched (the publisher waits for our subscription, we for it): go.
        deadline = time.monotonic() + 20.0
        while node.count_publishers(topic) < 1 and proc.poll() is None \
                and time.monotonic() < deadline:
            executor.spin_once(timeout_sec=0.05)
        proc.stdin.write('go\n')
        proc.stdin.flush()
        # Until every frame is here, or the sending time plus a margin has passed.
        deadline = time.monotonic() + FRAMES / RATE_HZ + 10.0
        while len(set(received)) < FRAMES and proc.poll() is None \
                and time.monotonic() < deadline:
            executor.spin_once(timeout_sec=0.05)
        output = proc.communicate('done\n', timeout=10)[0]
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown(context=context)

    assert proc.returncode == 0, f'publisher failed ({proc.returncode}):\n{output}'
    assert all(size == WIDTH * HEIGHT * 3 for size in sizes)
    got = len(set(received))
    print(f'{got}/{FRAMES} full-HD frames received')
    assert got >= MIN_RECEIVED, \
        f'only {got}/{FRAMES} {WIDTH}x{HEIGHT} frames crossed processes:\n{output}'
