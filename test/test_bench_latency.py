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

"""``benchmark latency`` runs end to end on a few small frames (no timing thresholds)."""

import json
import math
from pathlib import Path
from typing import Any
from typing import Dict

import pytest

from accel_ai_ros.errors import AccelAiError
from accel_ai_ros_tools import bench
from accel_ai_ros_tools import bench_latency
from accel_ai_ros_tools.demo_models import build_demo_models

FRAMES = 20
STAGES = ('queue', 'decode', 'preprocess', 'inference', 'postprocess', 'publish')


@pytest.fixture(scope='module')
def demo_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp('demo_models')
    build_demo_models(path)
    return path


def _positive(stats: Dict[str, Any], count: int) -> None:
    assert stats['count'] == count
    assert stats['p50'] > 0.0 and math.isfinite(stats['p50'])
    assert stats['p99'] >= stats['p50']


@pytest.mark.parametrize('same_process', [True, False], ids=['same-process', 'two-process'])
def test_latency_bench_runs_and_reports_every_field(
        demo_models: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        same_process: bool) -> None:
    config = bench_latency.find_config('demo.yaml')
    assert config is not None
    out = tmp_path / 'latency.json'
    argv = ['latency', '--params-file', str(config), '--model-dir', str(demo_models),
            '--frames', str(FRAMES), '--warmup', '5', '--rate', '50', '--sizes', '320x240',
            '--json', str(out)]
    if same_process:
        argv.append('--same-process')
    import rclpy.logging
    level_before = rclpy.logging.get_logger_level('')
    assert bench.main(argv) == 0
    # The benchmark quietens its node with '--log-level warn', a process-wide default: it
    # must give this process its level back (it once silenced every later test's INFO lines).
    assert rclpy.logging.get_logger_level('') == level_before
    text = capsys.readouterr().out
    for needle in ('320x240 bgr8', f'published {FRAMES}', 'bare inference, back to back',
                   'bare processing, 50 Hz', 'node receipt -> publish',
                   'node stamp -> publish', 'overhead p50 receipt -> publish',
                   'node overhead per frame',
                   'overhead p50 stamp -> publish', 'node stages p50 ms: queue',
                   'rclpy deserialize Image', 'bytes(msg.data)', '| 320x240 |'):
        assert needle in text, needle

    data = json.loads(out.read_text(encoding='utf-8'))
    assert data['same_process'] is same_process
    assert data['environment']['ROS_AUTOMATIC_DISCOVERY_RANGE']
    assert data['machine']['cpus'] >= 1
    [size] = data['sizes']
    assert (size['width'], size['height']) == (320, 240)
    counters = size['counters']
    assert size['published'] == FRAMES
    assert 0 < counters['received'] <= FRAMES
    outcomes = sum(v for k, v in counters.items() if k != 'received')
    assert outcomes == counters['received']
    processed = counters['processed']
    assert processed > 0 and counters['failed'] == counters['rejected'] == 0
    for stage in STAGES + ('receipt_to_publish', 'stamp_to_publish', 'stamp_to_receipt',
                           'receipt_to_publish_minus_processing'):
        assert size['node'][stage]['count'] == processed, stage
    for stage in ('queue', 'preprocess', 'inference', 'postprocess', 'publish',
                  'receipt_to_publish', 'stamp_to_publish'):
        _positive(size['node'][stage], processed)
    for key in ('inference', 'processing', 'inference_back_to_back',
                'processing_back_to_back'):
        _positive(size['bare'][key], FRAMES)
    for key in ('deserialize', 'bytes_copy', 'serialize'):
        assert size['copy'][key]['p50'] > 0.0
    for pair in ('receipt_to_publish-inference', 'receipt_to_publish-processing',
                 'stamp_to_publish-inference', 'stamp_to_publish-processing'):
        assert math.isfinite(size['overhead'][pair]['ms'])
        assert size['overhead'][pair]['ratio'] > 0.0


def test_sizes_are_parsed_and_checked() -> None:
    assert bench_latency.parse_sizes('640x480, 1920x1080') == [(640, 480), (1920, 1080)]
    for bad in ('640', '0x480', 'axb', ''):
        with pytest.raises(AccelAiError):
            bench_latency.parse_sizes(bad)


def test_frames_are_deterministic() -> None:
    first = bench_latency.make_frames(64, 48, count=3, seed=1)
    again = bench_latency.make_frames(64, 48, count=3, seed=1)
    assert [f.shape for f in first] == [(48, 64, 3)] * 3
    assert all((a == b).all() for a, b in zip(first, again))
    assert not (first[0] == first[1]).all()
