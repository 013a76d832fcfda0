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

"""Flattening counters, latency percentiles and system samples into /diagnostics key-values.

Every key names its unit ('inference p99 ms', 'gpu temperature C'); a value that was not
measured is left out, and a monitoring source that is absent says so with its reason.
"""

import math
from typing import Dict
from typing import Mapping
from typing import Optional

from accel_ai_ros.monitoring.health import ordered_stages
from accel_ai_ros.monitoring.system import SystemSample

#: How a recorded latency stage is shown (the others keep their own name).
STAGE_LABELS = {
    'transport': 'transport (stamp to receipt)', 'queue': 'wait', 'decode': 'decode',
    'preprocess': 'preprocessing', 'inference': 'inference',
    'postprocess': 'postprocessing', 'publish': 'publishing', 'total': 'receipt to done',
    'receipt_to_publish': 'receipt to publish', 'stamp_to_publish': 'stamp to publish',
}


def diagnostic_values(counters: Mapping[str, int],
                      latency: Mapping[str, Mapping[str, float]],
                      backend: str, precision: str, engine: str,
                      system: Optional[SystemSample] = None,
                      extra: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
    """Return the string key-values of one diagnostic status.

    ``counters`` are frame counts (received, processed, dropped_*, rejected, failed) and
    ``latency`` maps a stage to its p50/p95/p99 in milliseconds, shown in the order a frame
    goes through them; stages with no sample yet are left out rather than reported as zero.
    ``system`` adds the latest process, system and GPU sample; ``extra`` comes last.
    """
    values: Dict[str, str] = {'backend': backend or 'none', 'precision': precision or 'none',
                              'engine': engine or 'none'}
    for name, count in counters.items():
        values[f'frames {name}'] = str(int(count))
    for stage in ordered_stages(list(latency)):
        summary = latency[stage]
        label = STAGE_LABELS.get(stage, stage)
        for key in ('p50', 'p95', 'p99'):
            value = summary.get(key, math.nan)
            if not math.isnan(value):
                values[f'{label} {key} ms'] = f'{value:.3f}'
    if system is not None:
        for key, number in system.values.items():
            values[key] = str(int(number)) if float(number).is_integer() else f'{number:.1f}'
        if system.throttled is not None:
            values['gpu throttled'] = system.throttle_reasons if system.throttled else 'no'
        for source, why in system.absent.items():
            values[f'{source} monitoring'] = f'absent: {why}'
    values.update(extra or {})
    return values
