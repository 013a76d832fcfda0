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

"""One frame through the chain: image, runner (preprocess and infer), decoded result.

Free of rclpy. The node hands a decoded image and the runner in service to
:meth:`FrameProcessor.process`; settings that may change at run time (thresholds, top-k) are
replaced as a whole, frozen value and take effect on the next frame.
"""

from dataclasses import dataclass
from dataclasses import fields
from dataclasses import replace
import threading
import time
from typing import Any
from typing import Dict
from typing import Mapping
from typing import Optional
from typing import Sequence
from typing import Tuple

import numpy as np

from accel_ai_ros.backends.base import Runner
from accel_ai_ros.errors import AccelAiError
from accel_ai_ros.errors import EngineError
from accel_ai_ros.errors import NonFiniteOutputError
from accel_ai_ros.image_codec import DecodedImage
from accel_ai_ros.params import SPECS
from accel_ai_ros.preprocess import PreprocessSpec
from accel_ai_ros.preprocess import spec_from_tensor
from accel_ai_ros.tasks.base import Decoder
from accel_ai_ros.tasks.registry import load_labels
from accel_ai_ros.tasks.registry import make_decoder
from accel_ai_ros.tasks.registry import task_named
from accel_ai_ros.tasks.results import InferenceResult


@dataclass(frozen=True)
class ProcessingSettings:
    """Everything that shapes preprocessing and postprocessing, as one frozen value.

    Each field but the last two is the parameter of the same name (:mod:`accel_ai_ros.params`);
    ``task_values`` holds the task's own parameters (:mod:`accel_ai_ros.tasks`) by name.
    """

    task: str
    resize_mode: str
    channel_order: str
    tensor_layout: str
    scale: float
    mean: Tuple[float, ...]
    std: Tuple[float, ...]
    pad_value: int
    input_width: int
    input_height: int
    task_values: Tuple[Tuple[str, Any], ...] = ()
    labels: Tuple[str, ...] = ()

    @classmethod
    def from_params(cls, values: Mapping[str, Any],
                    labels: Sequence[str] = ()) -> 'ProcessingSettings':
        """Build the settings from parameter values (names as in :mod:`accel_ai_ros.params`)."""
        task = task_named(str(values['task']))
        own = {f.name: SPECS[f.name].coerce(values[f.name]) for f in fields(cls)
               if f.name in SPECS}
        return cls(**own, labels=tuple(labels), task_values=tuple(
            (spec.name, spec.coerce(values[spec.name])) for spec in task.parameters))

    def with_labels_file(self, path: str) -> 'ProcessingSettings':
        """Return a copy whose labels are read from ``path`` (empty path: no labels)."""
        return replace(self, labels=tuple(load_labels(path)) if path else ())


@dataclass
class _Prepared:
    runner: Runner
    settings: ProcessingSettings
    spec: PreprocessSpec
    decoder: Decoder


class FrameProcessor:
    """Turn decoded images into results with whichever runner is in service."""

    def __init__(self, settings: ProcessingSettings) -> None:
        self._settings = settings
        self._lock = threading.Lock()
        self._prepared: Optional[_Prepared] = None

    @property
    def settings(self) -> ProcessingSettings:
        """Return the settings in force."""
        return self._settings

    def update(self, settings: ProcessingSettings) -> None:
        """Replace the settings; the next frame uses them."""
        with self._lock:
            self._settings = settings

    def spec_for(self, runner: Runner) -> PreprocessSpec:
        """Return the preprocessing spec this runner's input needs with the current settings."""
        return self._prepare(runner).spec

    def check(self, runner: Runner) -> None:
        """
        Refuse an engine that cannot serve: the checks activation and every swap share.

        The preprocessing spec is built from the engine's input (rank, channels, size), then
        one grey test frame goes through the real preprocessing, inference and output
        decoding, exactly as a camera frame would.

        :raises EngineError: naming what failed; the engine is left active (the caller
            deactivates it).
        """
        try:
            spec = self._prepare(runner).spec
            frame = np.full((spec.height, spec.width, 3), spec.pad_value, dtype=np.uint8)
            self.process(DecodedImage(frame, 'bgr'), runner)
        except AccelAiError as exc:
            raise EngineError(f'{runner.describe()} cannot serve: {exc}') from exc
        except Exception as exc:  # noqa: B902 - a backend's own error, named
            raise EngineError(f'{runner.describe()} fails a test frame: '
                              f'{type(exc).__name__}: {exc}') from exc

    def _prepare(self, runner: Runner) -> _Prepared:
        with self._lock:
            settings = self._settings
            prepared = self._prepared
        if prepared is not None and prepared.runner is runner \
                and prepared.settings is settings:
            return prepared
        info = runner.inputs()[0]
        fallback = None
        if settings.input_width and settings.input_height:
            fallback = (settings.input_height, settings.input_width)
        spec = spec_from_tensor(
            info.shape, info.dtype, resize_mode=settings.resize_mode,
            channel_order=settings.channel_order, scale=settings.scale, mean=settings.mean,
            std=settings.std, layout=settings.tensor_layout, pad_value=settings.pad_value,
            fallback_size=fallback)
        decoder = make_decoder(settings.task, dict(settings.task_values), settings.labels,
                               spec.width, spec.height)
        prepared = _Prepared(runner, settings, spec, decoder)
        with self._lock:
            self._prepared = prepared
        return prepared

    def process(self, image: DecodedImage, runner: Runner,
                timings: Optional[Dict[str, float]] = None) -> InferenceResult:
        """Run one image; stage times in milliseconds go into ``timings``."""
        prepared = self._prepare(runner)
        outputs, transform = runner.run_image(image, prepared.spec)
        check_finite(outputs)
        start = time.perf_counter()
        result = prepared.decoder(outputs, transform)
        if timings is not None:
            timings['preprocess'] = runner.last_preprocess_ms
            timings['inference'] = runner.last_inference_ms
            timings['postprocess'] = (time.perf_counter() - start) * 1e3
        result.raw = outputs
        return result


def check_finite(outputs: Mapping[str, np.ndarray]) -> None:
    """
    Refuse outputs holding NaN or infinity, naming the output.

    The sum in the output's own dtype is finite when every value is (no allocation: about
    0.1 ms for YOLOv8's 1x84x8400 where a float64 sum took 0.8 ms, measured); when it is
    not, which large finite values can also cause by overflowing, the values are counted
    in full and only a real NaN or infinity fails.

    :raises NonFiniteOutputError: naming the first such output.
    """
    for name, array in outputs.items():
        values = np.asarray(array)
        if values.dtype.kind != 'f' or np.isfinite(values.sum()):
            continue
        bad = int(values.size - np.count_nonzero(np.isfinite(values)))
        if bad:
            raise NonFiniteOutputError(
                f"output '{name}' holds {bad} NaN or infinite values of {values.size}; "
                'nothing is published for this frame. The engine is broken for this input '
                '(an FP16 overflow or a bad INT8 calibration is the usual cause): try the '
                'fp32 engine, or rebuild this precision.')
