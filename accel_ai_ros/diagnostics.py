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

"""Flattening counters and latency percentiles into /diagnostics key-value pairs."""

import math
from typing import Dict
from typing import Mapping


def diagnostic_values(counters: Mapping[str, int],
                      latency: Mapping[str, Mapping[str, float]],
                      backend: str, precision: str, engine: str) -> Dict[str, str]:
    """Return the string key-values of one diagnostic status.

    ``counters`` are frame counts (received, processed, dropped_*, rejected, failed) and
    ``latency`` maps a stage to its p50/p95/p99 in milliseconds; stages with no sample yet are
    left out rather than reported as zero.
    """
    values: Dict[str, str] = {'backend': backend or 'none', 'precision': precision or 'none',
                              'engine': engine or 'none'}
    for name, count in counters.items():
        values[f'frames {name}'] = str(int(count))
    for stage, summary in latency.items():
        for key in ('p50', 'p95', 'p99'):
            value = summary.get(key, math.nan)
            if not math.isnan(value):
                values[f'{stage} {key} ms'] = f'{value:.3f}'
    return values
