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

"""One engine for several cameras: the nodes of one process share a runner and batch frames.

With ``share_engine`` set, every inference node of a process (one per camera, loaded into one
``component_container``) that asks for the same engine (same loader settings: file, backend,
precision, providers, device) gets a :class:`SharedRunner` handle on one :class:`SharedEngine`.
The engine is loaded once; it is freed when the last handle is deactivated.

Each node keeps its own worker, preprocessing, counters, latency and publishers; only the
engine call is shared. One batching thread takes every frame waiting at that moment (up to
``max_batch``) and runs them as one call when the engine has a batch dimension: a dynamic one
takes the frames concatenated, a fixed one of N > 1 takes them padded with zeros to N. An
engine with batch 1 runs the waiting frames one after another. The handles see batch 1.
Nothing here imports rclpy.
"""

import threading
from typing import Any
from typing import Callable
from typing import Dict
from typing import List
from typing import Optional
from typing import Tuple

import numpy as np

from accel_ai_ros.backends.base import Dim
from accel_ai_ros.backends.base import Runner
from accel_ai_ros.backends.base import TensorInfo
from accel_ai_ros.errors import InferenceError

Feed = Dict[str, np.ndarray]
Loader = Callable[[], Runner]


def loader_key(loader: Any) -> Tuple[Any, ...]:
    """Return what identifies the engine a loader loads: its class and plain settings."""
    settings = getattr(loader, '__dict__', None)
    if settings is None:
        return (id(loader),)
    return (type(loader).__qualname__,) + tuple(sorted(
        (name, repr(value)) for name, value in settings.items() if not callable(value)))


class _Request:
    """One frame's feed waiting for the batching thread."""

    def __init__(self, feed: Feed) -> None:
        self.feed = feed
        self.done = threading.Event()
        self.outputs: Optional[Feed] = None
        self.error: Optional[BaseException] = None


class SharedEngine:
    """One active runner and the thread that batches the calls of its handles."""

    def __init__(self, key: Tuple[Any, ...], runner: Runner, max_batch: int) -> None:
        """Serve ``runner`` (active) to handles; batches hold at most ``max_batch`` frames."""
        self.key = key
        self.runner = runner
        first = runner.inputs()[0].shape[0] if runner.inputs()[0].shape else 1
        self.fixed_batch = first if isinstance(first, int) and first > 0 else 0
        if self.fixed_batch:
            self.max_batch = min(max(1, max_batch), self.fixed_batch)
        else:
            self.max_batch = max(1, max_batch)
        self.users = 0
        self.calls = 0
        self.frames = 0
        self._cond = threading.Condition(threading.Lock())
        self._queue: List[_Request] = []
        self._closed = False
        self._thread = threading.Thread(target=self._serve, daemon=True,
                                        name=f'shared-engine-{runner.name}')
        self._thread.start()

    def infer(self, feed: Feed) -> Feed:
        """Run one frame (batch 1) in the next batch; return its outputs (batch 1)."""
        request = _Request(feed)
        with self._cond:
            if self._closed:
                raise InferenceError(f'the shared engine {self.runner.name!r} was freed')
            self._queue.append(request)
            self._cond.notify()
        request.done.wait()
        if request.error is not None:
            raise request.error
        assert request.outputs is not None
        return request.outputs

    def close(self) -> None:
        """Stop the batching thread once the queued frames ran; deactivate the runner."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join()
        self.runner.deactivate()

    def mean_batch(self) -> float:
        """Return the mean number of frames per engine call so far."""
        with self._cond:
            return self.frames / self.calls if self.calls else 0.0

    def _serve(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: bool(self._queue) or self._closed)
                if not self._queue:
                    return
                batch = self._queue[:self.max_batch]
                del self._queue[:self.max_batch]
            try:
                self._run(batch)
            except BaseException as exc:  # noqa: B902 - every waiting caller gets the error
                for request in batch:
                    if not request.done.is_set():
                        request.error = exc
                        request.done.set()

    def _run(self, batch: List[_Request]) -> None:
        if len(batch) == 1 and not self.fixed_batch:
            batch[0].outputs = self.runner.infer(batch[0].feed)
            self._count(1, 1)
            batch[0].done.set()
            return
        if self.fixed_batch == 1:
            for request in batch:
                request.outputs = self.runner.infer(request.feed)
                request.done.set()
            self._count(len(batch), len(batch))
            return
        names = list(batch[0].feed)
        rows = self.fixed_batch or len(batch)
        feed = {}
        for name in names:
            first = batch[0].feed[name]
            stacked = np.zeros((rows,) + first.shape[1:], dtype=first.dtype)
            for i, request in enumerate(batch):
                stacked[i] = request.feed[name][0]
            feed[name] = stacked
        outputs = self.runner.infer(feed)
        for i, request in enumerate(batch):
            request.outputs = {name: value[i:i + 1] for name, value in outputs.items()}
            request.done.set()
        self._count(1, len(batch))

    def _count(self, calls: int, frames: int) -> None:
        with self._cond:
            self.calls += calls
            self.frames += frames


class SharedEngines:
    """The engines of one process, by loader key; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._engines: Dict[Tuple[Any, ...], SharedEngine] = {}
        self.loads = 0

    def acquire(self, loader: Loader, max_batch: int) -> SharedEngine:
        """Return the engine ``loader`` loads, loading it only if no node holds it yet."""
        key = loader_key(loader)
        with self._lock:
            engine = self._engines.get(key)
            if engine is None:
                engine = SharedEngine(key, loader(), max_batch)
                self._engines[key] = engine
                self.loads += 1
            engine.users += 1
            return engine

    def release(self, engine: SharedEngine) -> None:
        """Drop one user of ``engine``; the last one frees it."""
        with self._lock:
            engine.users -= 1
            last = engine.users <= 0
            if last:
                self._engines.pop(engine.key, None)
        if last:
            engine.close()

    def __len__(self) -> int:
        """Return how many engines are loaded."""
        with self._lock:
            return len(self._engines)


#: The engines shared by the nodes of this process.
ENGINES = SharedEngines()


def _single(info: TensorInfo) -> TensorInfo:
    """Return ``info`` with a fixed batch dimension shown as 1 (what one handle feeds)."""
    if not info.shape or not isinstance(info.shape[0], int) or info.shape[0] <= 1:
        return info
    shape: Tuple[Dim, ...] = (1,) + tuple(info.shape[1:])
    return TensorInfo(info.name, shape, info.dtype)


class SharedRunner(Runner):
    """One node's handle on a :class:`SharedEngine`: a runner whose calls may be batched."""

    def __init__(self, loader: Loader, max_batch: int,
                 engines: SharedEngines = ENGINES) -> None:
        """Share the engine ``loader`` loads; it is acquired on :meth:`activate`."""
        super().__init__(getattr(loader, 'name', 'shared'))
        self._loader = loader
        self._max_batch = max_batch
        self._engines = engines
        self.engine: Optional[SharedEngine] = None

    def describe(self) -> str:
        """Return the shared engine's summary, how many nodes share it and the batch."""
        assert self.engine is not None
        batch = (f'fixed batch {self.engine.fixed_batch}' if self.engine.fixed_batch
                 else f'batches of up to {self.engine.max_batch}')
        return (f'{self.engine.runner.describe()}; shared by {self.engine.users} node(s), '
                f'{batch}')

    def health(self) -> Dict[str, str]:
        """Return the shared engine's backend state, its users and its mean batch."""
        if self.engine is None:
            return {}
        state = dict(self.engine.runner.health())
        state['shared engine nodes'] = str(self.engine.users)
        state['shared engine mean batch'] = f'{self.engine.mean_batch():.2f}'
        return state

    def _activate(self) -> None:
        self.engine = self._engines.acquire(self._loader, self._max_batch)
        inner = self.engine.runner
        self.name = inner.name
        self.backend_name = inner.backend_name
        self._inputs = [_single(i) for i in inner.inputs()]
        self._outputs = [_single(o) for o in inner.outputs()]

    def _infer(self, feed: Feed) -> Feed:
        assert self.engine is not None
        return self.engine.infer(feed)

    def _deactivate(self) -> None:
        if self.engine is not None:
            self._engines.release(self.engine)
            self.engine = None


def shared_loader(loader: Loader, max_batch: int) -> Loader:
    """Return a loader of :class:`SharedRunner` handles on the engine ``loader`` loads."""
    def load() -> Runner:
        runner = SharedRunner(loader, max_batch)
        runner.activate()
        return runner
    return load
