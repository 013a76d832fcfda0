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

"""The runner contract that every backend implements.

Modelled on Polygraphy's ``BaseRunner``: a runner is *activated* (buffers, sessions, streams
are created), *infers* any number of times, and is *deactivated* (everything freed). It knows
its inputs and outputs from the engine itself, validates a feed against them, and times itself
around a synchronised call, so ``last_inference_ms`` is the bare backend time.

Preprocessing belongs to the runner because only the runner knows where its input lives: the
default :meth:`Runner.run_image` preprocesses on the CPU and calls :meth:`Runner.infer`; a GPU
runner overrides it to upload the frame once and preprocess on the device.
"""

import abc
from dataclasses import dataclass
import time
from typing import Dict
from typing import List
from typing import Optional
from typing import Sequence
from typing import Tuple
from typing import Union

import numpy as np

from accel_ai_ros.errors import AccelAiError
from accel_ai_ros.errors import EngineError
from accel_ai_ros.errors import InferenceError
from accel_ai_ros.image_codec import DecodedImage
from accel_ai_ros.preprocess import CpuPreprocessor
from accel_ai_ros.preprocess import PreprocessSpec
from accel_ai_ros.transform import ImageTransform

Dim = Union[int, str, None]


def _one_line(error: BaseException) -> str:
    """Return an exception as 'Type: message' on one line."""
    return f'{type(error).__name__}: {" ".join(str(error).split())}'.rstrip(': ')


@dataclass(frozen=True)
class TensorInfo:
    """Name, shape and element type of one engine input or output.

    A dynamic dimension is ``None`` or a symbolic name (``'batch'``).
    """

    name: str
    shape: Tuple[Dim, ...]
    dtype: np.dtype

    @property
    def is_static(self) -> bool:
        """Return True when every dimension is a fixed integer."""
        return all(isinstance(d, int) and d >= 0 for d in self.shape)

    def matches(self, array: np.ndarray) -> Optional[str]:
        """Return why ``array`` does not fit this tensor, or None when it does."""
        if array.dtype != self.dtype:
            return (f'input {self.name!r} has dtype {array.dtype}, the engine expects '
                    f'{self.dtype}; set the preprocessing dtype to {self.dtype}')
        if len(array.shape) != len(self.shape):
            return (f'input {self.name!r} has shape {tuple(array.shape)}, the engine expects '
                    f'{len(self.shape)} dimensions {self.shape}')
        for got, want in zip(array.shape, self.shape):
            if isinstance(want, int) and want >= 0 and got != want:
                return (f'input {self.name!r} has shape {tuple(array.shape)}, the engine '
                        f'expects {self.shape}')
        return None


class Runner(abc.ABC):
    """Runs one engine. Subclasses implement the ``_``-prefixed hooks."""

    #: Short backend name shown in diagnostics ('onnxruntime', 'tensorrt', 'torch').
    backend_name: str = 'base'

    def __init__(self, name: str) -> None:
        self.name = name
        self.is_active = False
        self.last_inference_ms = 0.0
        self.last_preprocess_ms = 0.0
        # Filled by each backend's _activate() from the engine itself.
        self._inputs: List[TensorInfo] = []
        self._outputs: List[TensorInfo] = []
        self._preprocessor: Optional[CpuPreprocessor] = None
        self._input_buffer: Optional[np.ndarray] = None

    # -- lifecycle ---------------------------------------------------------------------
    def activate(self) -> None:
        """Create sessions, contexts and buffers. Calling it twice is harmless."""
        if not self.is_active:
            try:
                self._activate()
            except AccelAiError:
                raise
            except Exception as error:  # noqa: B902 - every backend error gets one family
                raise EngineError(
                    f'the {self.backend_name} backend could not activate {self.name!r}: '
                    f'{_one_line(error)}; check the engine file, the device and the '
                    f'{self.backend_name} installation') from error
            self.is_active = True

    def deactivate(self) -> None:
        """Free everything :meth:`activate` created. Calling it twice is harmless."""
        if self.is_active:
            self.is_active = False
            self._preprocessor = None
            self._input_buffer = None
            self._deactivate()

    def __enter__(self) -> 'Runner':
        self.activate()
        return self

    def __exit__(self, *exc: object) -> None:
        self.deactivate()

    # -- metadata ----------------------------------------------------------------------
    def inputs(self) -> List[TensorInfo]:
        """Return the engine's inputs, known once :meth:`activate` ran."""
        self._require_active()
        return list(self._inputs)

    def outputs(self) -> List[TensorInfo]:
        """Return the engine's outputs, known once :meth:`activate` ran."""
        self._require_active()
        return list(self._outputs)

    def _require_active(self) -> None:
        """Raise InferenceError unless the runner is active; backends may check more."""
        if not self.is_active:
            raise InferenceError(f'runner {self.name!r} is not active; call activate() first')

    def health(self) -> Dict[str, str]:
        """Return backend state for /diagnostics (a remote server's state), without work."""
        return {}

    def describe(self) -> str:
        """Return a one-line summary of the engine's inputs and outputs."""
        def fmt(infos: Sequence[TensorInfo]) -> str:
            return ', '.join(f'{i.name}{list(i.shape)}:{i.dtype}' for i in infos)
        return (f'{self.backend_name} {self.name}: inputs [{fmt(self.inputs())}] '
                f'outputs [{fmt(self.outputs())}]')

    # -- inference ---------------------------------------------------------------------
    def infer(self, feed: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
        """Validate ``feed``, run the engine synchronously and return host output arrays."""
        if not self.is_active:
            raise InferenceError(f'runner {self.name!r} is not active; call activate() first')
        expected = {info.name: info for info in self.inputs()}
        missing = sorted(set(expected) - set(feed))
        extra = sorted(set(feed) - set(expected))
        if missing or extra:
            raise InferenceError(
                f'feed for {self.name!r} does not match the engine: missing {missing}, '
                f'unexpected {extra}; the engine takes {sorted(expected)}')
        for name, array in feed.items():
            problem = expected[name].matches(array)
            if problem:
                raise InferenceError(problem)
        start = time.perf_counter()
        try:
            outputs = self._infer(feed)
        except AccelAiError:
            raise
        except Exception as error:  # noqa: B902 - every backend error gets one family
            raise InferenceError(
                f'the {self.backend_name} backend failed running {self.name!r}: '
                f'{_one_line(error)}; check the input against: {self.describe()}') from error
        self.last_inference_ms = (time.perf_counter() - start) * 1e3
        return outputs

    def run_image(self, image: DecodedImage,
                  spec: PreprocessSpec) -> Tuple[Dict[str, np.ndarray], ImageTransform]:
        """Preprocess ``image`` for the first input and infer; return outputs and transform.

        This default preprocesses on the CPU into one host buffer reused frame after frame;
        a GPU runner overrides it to upload the frame once and preprocess on the device.
        """
        start = time.perf_counter()
        if self._preprocessor is None or self._preprocessor.spec != spec:
            self._preprocessor = CpuPreprocessor(spec)
            self._input_buffer = np.empty(spec.output_shape, dtype=np.dtype(spec.dtype))
        tensor, transform = self._preprocessor(image, out=self._input_buffer)
        self.last_preprocess_ms = (time.perf_counter() - start) * 1e3
        return self.infer({self.inputs()[0].name: tensor}), transform

    @abc.abstractmethod
    def _infer(self, feed: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
        """Run synchronously; return every output as a host array."""

    @abc.abstractmethod
    def _activate(self) -> None:
        """Backend-specific activation."""

    @abc.abstractmethod
    def _deactivate(self) -> None:
        """Backend-specific deactivation."""


def warm_up(runner: Runner) -> bool:
    """Run one inference on zeros when every input shape is static; return whether it ran."""
    infos = runner.inputs()
    if not all(info.is_static for info in infos):
        return False
    feed = {info.name: np.zeros([int(d) for d in info.shape if isinstance(d, int)],
                                dtype=info.dtype)
            for info in infos}
    runner.infer(feed)
    return True


def activated(runner: Runner, warmup: bool = True) -> Runner:
    """Activate ``runner`` and warm it up; deactivate it again if either step fails."""
    try:
        runner.activate()
        if warmup:
            warm_up(runner)
    except BaseException:
        runner.deactivate()
        raise
    return runner
