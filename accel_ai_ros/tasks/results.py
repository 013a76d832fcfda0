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

"""Plain result values that postprocessing produces and the node turns into messages."""

from dataclasses import dataclass
from dataclasses import field
from typing import Dict
from typing import List

import numpy as np


@dataclass(frozen=True)
class ClassScore:
    """One class hypothesis: index, score in [0, 1] and a label ('' when none is known)."""

    class_id: int
    score: float
    label: str = ''


@dataclass(frozen=True)
class Detection:
    """One detected object, with a corner box in original-image pixels."""

    x1: float
    y1: float
    x2: float
    y2: float
    score: float
    class_id: int
    label: str = ''


@dataclass
class InferenceResult:
    """What one frame produced. Empty lists are a valid result: nothing was found."""

    task: str
    classes: List[ClassScore] = field(default_factory=list)
    detections: List[Detection] = field(default_factory=list)
    #: True when more detections passed the thresholds than ``max_detections`` allows.
    truncated: bool = False
    raw: Dict[str, np.ndarray] = field(default_factory=dict)
