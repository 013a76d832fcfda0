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

"""System sampling and diagnostic levels (plain pytest, no ROS)."""

import math
import time

import pytest

from accel_ai_ros.monitoring import health
from accel_ai_ros.monitoring.health import CounterWindow
from accel_ai_ros.monitoring.health import HealthLimits
from accel_ai_ros.monitoring.health import WindowRates
from accel_ai_ros.monitoring.system import optional_import
from accel_ai_ros.monitoring.system import parse_tegrastats
from accel_ai_ros.monitoring.system import SystemMonitor

LIMITS = HealthLimits(latency_budget_ms=50.0, drop_rate_warn=0.2, failure_warn_ratio=0.1,
                      failure_error_ratio=0.5, no_image_error_s=5.0, min_frames=5)


def counters(**kw: int):
    base = dict.fromkeys(('received', 'processed', 'dropped_overtaken', 'dropped_stale',
                          'dropped_no_engine', 'dropped_shutdown', 'rejected', 'failed'), 0)
    base.update(kw)
    return base


def test_monitor_reports_absent_sources_never_zeros():
    monitor = SystemMonitor(period_s=0.1)
    monitor.start()
    try:
        deadline = time.monotonic() + 10.0
        while monitor.latest() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        sample = monitor.latest()
    finally:
        monitor.stop()
    assert sample is not None
    if 'nvml' in sample.sources:
        assert 'gpu' not in sample.absent and sample.values['gpu memory total MB'] > 0
    else:
        # No GPU here (or no NVML): the GPU is reported absent with a reason, and no GPU key
        # is made up.
        assert sample.absent['gpu'], sample.absent
        assert not [k for k in sample.values if k.startswith('gpu')]
        assert sample.throttled is None
    assert 'psutil' in sample.sources, f'psutil is a runtime dependency: {sample.absent}'
    assert sample.values['process rss MB'] > 1.0
    assert 0.0 <= sample.values['system cpu %'] <= 100.0
    assert monitor.cpu_seconds > 0.0 and 'monitor cpu %' in sample.values


def test_a_missing_optional_library_is_recorded_with_its_import_error():
    module, why = optional_import('accel_ai_ros_no_such_module')
    assert module is None and why.startswith('ModuleNotFoundError: ')


def test_a_source_that_breaks_is_dropped_with_its_error():
    from accel_ai_ros.monitoring.system import Source

    class Breaks(Source):
        name = 'flaky'

        def read(self, values):
            raise OSError('device went away')

    monitor = SystemMonitor(period_s=0.05, opener=lambda: ([Breaks()], {}))
    monitor.start()
    try:
        assert _wait(lambda: monitor.latest() is not None)
    finally:
        monitor.stop()
    sample = monitor.latest()
    assert sample.absent == {'flaky': 'stopped: OSError: device went away'}
    assert sample.sources == ()


def _wait(predicate, timeout: float = 5.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.02)
    return bool(predicate())


@pytest.mark.parametrize('line, expected', [
    # Jetson AGX Orin (JetPack 6)
    ('12-04-2026 10:00:00 RAM 2412/30536MB (lfb 6722x4MB) SWAP 0/15268MB (cached 0MB) '
     'CPU [2%@729,0%@729] EMC_FREQ 0%@2133 GR3D_FREQ 37%@[305,305] VIC_FREQ 115 '
     'CV0@-256C CPU@42.468C GPU@39.843C tj@42.468C VDD_GPU_SOC 2386mW/2386mW '
     'VDD_CPU_CV 397mW/397mW',
     {'gpu util %': 37.0, 'gpu clock MHz': 305.0, 'gpu temperature C': 39.843,
      'gpu power W': 2.386}),
    # Jetson Nano (JetPack 4)
    ('RAM 1906/3964MB (lfb 1x1MB) SWAP 0/1982MB (cached 0MB) CPU [7%@1479,off] '
     'EMC_FREQ 0% GR3D_FREQ 0% PLL@24C CPU@26.5C PMIC@100C GPU@25C AO@32C thermal@25.75C '
     'POM_5V_IN 2108/2108 POM_5V_GPU 40/40 POM_5V_CPU 355/355',
     {'gpu util %': 0.0, 'gpu temperature C': 25.0, 'gpu power W': 0.04}),
])
def test_tegrastats_lines(line, expected):
    values = parse_tegrastats(line)
    for key, value in expected.items():
        assert values[key] == pytest.approx(value), key
    assert 0.0 < values['system memory used %'] < 100.0


def test_counter_window_deltas():
    window = CounterWindow(window_s=10.0)
    window.add(0.0, counters())
    window.add(1.0, counters(received=10, processed=10))
    window.add(2.0, counters(received=20, processed=12, failed=8))
    rates = WindowRates.from_delta(window.delta())
    assert rates.used == 20 and rates.unusable_share == pytest.approx(0.4)
    # Old snapshots leave the window; one stays as the base.
    window.add(20.0, counters(received=40, processed=32, failed=8))
    assert window.delta() == counters(received=20, processed=20)


def test_failure_share_warn_then_error_with_the_last_reason_then_ok():
    def level(share_failed: int, succeeded=None):
        rates = WindowRates.from_delta(counters(received=20, processed=20 - share_failed,
                                                failed=share_failed))
        return health.assess(LIMITS, active=True, summary_ok='running fp32',
                             seconds_without_image=0.1, rates=rates,
                             succeeded_since_failure=succeeded,
                             last_failure='InferenceError: bad output')
    assert level(0).level == health.OK and level(0).message == 'running fp32'
    assert level(1).level == health.OK, '5 % is under the 10 % warning'
    warn = level(4)
    assert warn.level == health.WARN and 'last: InferenceError: bad output' in warn.message
    assert level(10).level == health.ERROR
    assert level(10, succeeded=5).level == health.OK, 'frames succeed again: OK at once'


def test_no_image_latency_drops_throttling_and_inactive():
    assess = health.assess
    assert assess(LIMITS, active=True, summary_ok='x',
                  seconds_without_image=5.5).level == health.ERROR
    assert assess(LIMITS, active=False, summary_ok='x',
                  seconds_without_image=None).level == health.WARN
    slow = assess(LIMITS, active=True, summary_ok='x', seconds_without_image=0.0,
                  latency_p99_ms=75.0)
    assert slow.level == health.WARN and 'p99 75.0 ms over the 50 ms budget' in slow.message
    drops = assess(LIMITS, active=True, summary_ok='x', seconds_without_image=0.0,
                   rates=WindowRates.from_delta(counters(received=10, processed=5,
                                                         dropped_overtaken=5)))
    assert drops.level == health.WARN and '50% of frames dropped' in drops.message
    hot = assess(LIMITS, active=True, summary_ok='x', seconds_without_image=0.0,
                 throttled=True, throttle_reasons='hw thermal slowdown')
    assert hot.level == health.WARN and 'hw thermal slowdown' in hot.message
    both = assess(LIMITS, active=True, summary_ok='x', engine_error='loading fp16 failed',
                  seconds_without_image=0.0, latency_p99_ms=75.0)
    assert both.level == health.ERROR and both.message.startswith('loading fp16 failed; ')
    assert not math.isnan(LIMITS.latency_budget_ms)


def test_ordered_stages():
    assert health.ordered_stages(['total', 'inference', 'queue', 'transport', 'zzz']) == [
        'transport', 'queue', 'inference', 'total', 'zzz']
