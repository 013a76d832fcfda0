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
The real-time path from a received image message to ``handle_frame``.

One :class:`InferencePipeline` per node. The subscription callback calls :meth:`submit`,
which stamps the message and puts it in a :class:`LatestFrameSlot` (latest wins, like
camera_calibrator's drop-oldest queue) and returns at once. One worker thread takes the newest
frame and calls ``handle_frame(frame, runner)``. Every received frame ends in exactly one
:class:`~accel_ai_ros.stats.FrameCounters` outcome:

``processed``          ``handle_frame`` returned.
``dropped_overtaken``  a newer frame replaced it in the slot before the worker took it.
``dropped_stale``      older than ``max_frame_age_ms`` when the worker took it.
``dropped_no_engine``  no runner was loaded when the worker took it.
``dropped_shutdown``   still waiting when :meth:`InferencePipeline.stop` ran, or submitted
                       after it.
``rejected``           ``handle_frame`` raised :class:`~accel_ai_ros.errors.ImageDecodeError`.
``failed``             ``handle_frame`` raised anything else.

Engine swaps: :meth:`InferencePipeline.request_swap` runs the loader on its own thread, so
building and warming up never stalls the stream. The worker installs the new runner between
two frames (a reference swap), deactivates the old one (its last frame has finished by then)
and calls ``on_swap``. A failed load leaves the old runner serving. No frame fails or is lost
because of a swap.
"""

from dataclasses import dataclass
from dataclasses import field
import logging
import threading
import time
from typing import Any
from typing import Callable
from typing import Dict
from typing import Generic
from typing import List
from typing import Optional
from typing import Set
from typing import Tuple
from typing import TypeVar

from accel_ai_ros.backends.base import Runner
from accel_ai_ros.errors import ImageDecodeError
from accel_ai_ros.stats import FrameCounters
from accel_ai_ros.stats import LatencyTracker

T = TypeVar('T')

HandleFrame = Callable[['PendingFrame', Runner], None]
OnSwap = Callable[[Optional[Runner], Optional[BaseException], str], None]
OnError = Callable[['PendingFrame', BaseException], None]

_LOG = logging.getLogger(__name__)


@dataclass
class PendingFrame:
    """A received message waiting for the worker; the pipeline never looks inside it."""

    message: Any
    received_at: float
    #: The frame's one timing record, stage name -> milliseconds, filled as it travels
    #: (queue by the pipeline; decode, preprocess, inference, ... by the frame handler) and
    #: recorded into the latency tracker once, when the frame is done.
    timings: Dict[str, float] = field(default_factory=dict)


class LatestFrameSlot(Generic[T]):
    """A one-item, latest-wins hand-over between a producer and one consumer thread."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._item: Optional[T] = None
        self._has_item = False
        self._closed = False
        self._woken = False

    def put(self, item: T) -> Optional[T]:
        """
        Store ``item``; return the item it replaced (None if none). Never blocks.

        After :meth:`close` the item is not stored and is returned itself.
        """
        with self._cond:
            if self._closed:
                return item
            old = self._item if self._has_item else None
            self._item = item
            self._has_item = True
            self._cond.notify()
            return old

    def take(self, timeout: Optional[float] = None) -> Optional[T]:
        """
        Remove and return the item, waiting up to ``timeout`` seconds (None: forever).

        Return None on timeout, after :meth:`close`, or when :meth:`wake` was called since
        the previous :meth:`take` returned (a wake is remembered, never lost).
        """
        with self._cond:
            self._cond.wait_for(lambda: self._has_item or self._closed or self._woken, timeout)
            self._woken = False
            if self._closed or not self._has_item:
                return None
            item = self._item
            self._item = None
            self._has_item = False
            return item

    def drain(self) -> Optional[T]:
        """Remove and return the item without waiting (None when empty); works after close."""
        with self._cond:
            item = self._item if self._has_item else None
            self._item = None
            self._has_item = False
            return item

    def wake(self) -> None:
        """Make the current or next :meth:`take` return None at once if no item waits."""
        with self._cond:
            self._woken = True
            self._cond.notify_all()

    def close(self) -> None:
        """Refuse further items and release every waiting :meth:`take`. Idempotent."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        """Return True after :meth:`close`."""
        with self._cond:
            return self._closed

    def __len__(self) -> int:
        """Return 1 when an item is waiting, else 0."""
        with self._cond:
            return 1 if self._has_item else 0


class InferencePipeline:
    """
    Latest-wins frame hand-over, one worker thread and engine hot swaps.

    ``handle_frame(frame, runner)`` runs on the worker thread and does the real work
    (decode, preprocess, infer, postprocess, publish). It may raise: ``ImageDecodeError``
    counts the frame ``rejected``, anything else ``failed``; both go to ``on_error`` and the
    worker carries on.

    ``on_swap(runner, error, tag)`` is always called on the worker thread, between frames:
    ``(new_runner, None, tag)`` once a loaded runner serves, ``(None, exc, tag)`` when a load
    failed (the previous runner keeps serving). A request superseded by a newer one before it
    was installed gets no call; its runner, if it loaded, is deactivated.

    Each processed frame's timing record (:attr:`PendingFrame.timings`) goes into ``latency``
    once, after ``handle_frame`` returns: the pipeline's ``'queue'`` (receipt to worker start)
    and ``'total'`` (receipt to the end of ``handle_frame``, from ``clock``), and whatever
    stages ``handle_frame`` wrote into the record.
    """

    def __init__(self, handle_frame: HandleFrame, counters: FrameCounters, *,
                 max_frame_age_ms: float = 0.0,
                 clock: Callable[[], float] = time.monotonic,
                 latency: Optional[LatencyTracker] = None,
                 on_swap: Optional[OnSwap] = None,
                 on_error: Optional[OnError] = None,
                 name: str = 'inference') -> None:
        self._handle_frame = handle_frame
        self.counters = counters
        self.latency = latency
        self._clock = clock
        self._on_swap = on_swap
        self._on_error = on_error
        self._name = name
        self._max_age_ms = 0.0
        self.set_max_frame_age_ms(max_frame_age_ms)

        self._slot: LatestFrameSlot[PendingFrame] = LatestFrameSlot()
        self._cond = threading.Condition(threading.Lock())
        # Everything below is guarded by self._cond.
        self._runner: Optional[Runner] = None
        self._outstanding = 0          # frames counted received but not yet an outcome
        self._started = False
        self._stopped = False
        self._worker: Optional[threading.Thread] = None
        self._loaders: Set[threading.Thread] = set()
        self._latest_gen = 0
        self._loading = 0
        # Finished loads waiting for the worker, in completion order: (gen, runner, exc, tag).
        self._events: List[Tuple[int, Optional[Runner], Optional[BaseException], str]] = []
        self._applying = False

    # -- properties -----------------------------------------------------------------------
    @property
    def runner(self) -> Optional[Runner]:
        """Return the runner that serves frames now (None before the first load)."""
        with self._cond:
            return self._runner

    @property
    def swap_pending(self) -> bool:
        """Return True while a load runs or a finished one waits for the worker."""
        with self._cond:
            return self._swap_pending_locked()

    @property
    def loading(self) -> int:
        """Return how many loader threads are still building a runner."""
        with self._cond:
            return self._loading

    @property
    def stopped(self) -> bool:
        """Return True once :meth:`stop` has closed the pipeline to new frames."""
        return self._slot.closed

    @property
    def waiting(self) -> int:
        """Return 1 while a frame waits in the slot for the worker, else 0."""
        return len(self._slot)

    @property
    def outstanding(self) -> int:
        """Return how many received frames are waiting or in flight."""
        with self._cond:
            return self._outstanding

    @property
    def max_frame_age_ms(self) -> float:
        """Return the age limit of a frame in milliseconds (0: no limit)."""
        return self._max_age_ms

    def set_max_frame_age_ms(self, ms: float) -> None:
        """Drop frames older than ``ms`` milliseconds from the next frame on (0: no limit)."""
        value = float(ms)
        if not value >= 0.0:
            raise ValueError(f'max_frame_age_ms must be >= 0 (0 disables it), got {ms}')
        self._max_age_ms = value

    # -- lifecycle ------------------------------------------------------------------------
    def start(self, runner: Optional[Runner]) -> None:
        """Start the worker thread serving frames with ``runner`` (None: drop until a swap)."""
        with self._cond:
            if self._started:
                raise RuntimeError(f'pipeline {self._name!r} was already started; '
                                   'create a new one after stop()')
            self._started = True
            self._runner = runner
            self._worker = threading.Thread(
                target=self._work, name=f'{self._name}-worker', daemon=True)
            self._worker.start()

    def submit(self, message: Any) -> None:
        """Hand a received message to the worker; cheap and non-blocking (callback thread)."""
        frame = PendingFrame(message, self._clock())
        self.counters.increment('received')
        with self._cond:
            self._outstanding += 1
        replaced = self._slot.put(frame)
        if replaced is not None:
            closed = replaced is frame
            self.counters.increment('dropped_shutdown' if closed else 'dropped_overtaken')
            self._finish_frames(1)

    def request_swap(self, load: Callable[[], Runner], tag: str = '') -> None:
        """
        Load a runner on a loader thread and have the worker install it between frames.

        ``load`` builds, activates and warms up the runner (the pipeline calls ``activate``
        once more, which is harmless). The newest request wins: an older request that has
        not been installed yet is dropped without an ``on_swap`` call and its runner is
        deactivated (if the older one is still loading, when it finishes). A failed load
        is always reported, even a superseded one. Raise RuntimeError after :meth:`stop`.
        """
        with self._cond:
            if self._stopped:
                raise RuntimeError(f'pipeline {self._name!r} is stopped; no swap possible')
            self._latest_gen += 1
            gen = self._latest_gen
            # A loaded runner the worker has not installed yet is superseded now.
            superseded = [e[1] for e in self._events if e[1] is not None]
            self._events = [e for e in self._events if e[1] is None]
            self._loading += 1
            thread = threading.Thread(
                target=self._load, args=(gen, load, tag, superseded),
                name=f'{self._name}-loader-{gen}', daemon=True)
            self._loaders.add(thread)
            thread.start()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no frame waits or runs and no swap is pending; False on timeout."""
        with self._cond:
            return self._cond.wait_for(
                lambda: self._outstanding == 0 and not self._swap_pending_locked(), timeout)

    def stop(self, timeout: float = 5.0) -> Optional[Runner]:
        """
        Stop the worker and the loaders; return the current runner, still active.

        The frame in flight finishes; a frame still waiting counts ``dropped_shutdown``.
        Loaded runners that were never installed are deactivated. The returned runner is
        the caller's to deactivate. Idempotent: later calls return the same runner.
        """
        deadline = time.monotonic() + max(0.0, timeout)
        with self._cond:
            self._stopped = True
            worker = self._worker
        self._slot.close()
        if worker is not None and worker is not threading.current_thread():
            worker.join(max(0.0, deadline - time.monotonic()))
            if worker.is_alive():
                _LOG.warning('pipeline %r: worker still busy after %.1f s', self._name, timeout)
        leftover = self._slot.drain()
        if leftover is not None:
            self.counters.increment('dropped_shutdown')
            self._finish_frames(1)
        with self._cond:
            loaders = list(self._loaders)
        for thread in loaders:
            if thread is not threading.current_thread():
                thread.join(max(0.0, deadline - time.monotonic()))
        with self._cond:
            events, self._events = self._events, []
            self._cond.notify_all()
        for _, staged, _, _ in events:
            if staged is not None:
                _deactivate_quietly(staged)
        with self._cond:
            return self._runner

    # -- internals ------------------------------------------------------------------------
    def _swap_pending_locked(self) -> bool:
        return self._loading > 0 or bool(self._events) or self._applying

    def _finish_frames(self, n: int) -> None:
        with self._cond:
            self._outstanding -= n
            self._cond.notify_all()

    def _load(self, gen: int, load: Callable[[], Runner], tag: str,
              superseded: List[Runner]) -> None:
        for stale in superseded:
            _deactivate_quietly(stale)
        runner: Optional[Runner] = None
        error: Optional[BaseException] = None
        try:
            runner = load()
            runner.activate()
        except BaseException as exc:  # noqa: B902 - reported through on_swap
            error = exc
            if runner is not None:
                _deactivate_quietly(runner)
            runner = None
        discard: List[Runner] = []
        with self._cond:
            if self._stopped:
                if runner is not None:
                    discard.append(runner)
            elif runner is not None and gen < self._latest_gen:
                discard.append(runner)                     # superseded by a newer request
            else:
                if runner is not None:
                    # A newer runner replaces an older one that the worker has not installed.
                    for event in [e for e in self._events if e[1] is not None]:
                        self._events.remove(event)
                        discard.append(event[1])  # type: ignore[arg-type]
                self._events.append((gen, runner, error, tag))
            self._cond.notify_all()
        for old in discard:
            _deactivate_quietly(old)
        with self._cond:
            # Only now: whoever sees no load in progress also sees the discarded ones freed.
            self._loading -= 1
            self._loaders.discard(threading.current_thread())
            self._cond.notify_all()
        self._slot.wake()

    def _apply_swaps(self) -> None:
        """Install a loaded runner and report load results; worker thread, between frames."""
        with self._cond:
            if not self._events:
                return
            events, self._events = self._events, []
            self._applying = True
        try:
            for _, new, error, tag in events:
                if new is not None:
                    with self._cond:
                        old, self._runner = self._runner, new
                    if old is not None and old is not new:
                        _deactivate_quietly(old)
                self._call_on_swap(new, error, tag)
        finally:
            with self._cond:
                self._applying = False
                self._cond.notify_all()

    def _call_on_swap(self, runner: Optional[Runner], error: Optional[BaseException],
                      tag: str) -> None:
        if self._on_swap is None:
            if error is not None:
                _LOG.error('pipeline %r: loading %r failed: %s', self._name, tag, error)
            return
        try:
            self._on_swap(runner, error, tag)
        except Exception:  # noqa: B902 - a callback must not kill the worker
            _LOG.exception('pipeline %r: on_swap callback raised', self._name)

    def _work(self) -> None:
        while True:
            try:
                self._apply_swaps()
                frame = self._slot.take(timeout=None)
                if frame is None:
                    if self._slot.closed:
                        return
                    continue                   # woken for a swap
                try:
                    self._apply_swaps()        # a swap that finished while we waited
                    self._process(frame)
                finally:
                    self._finish_frames(1)
            except Exception:  # noqa: B902 - the worker must never die
                _LOG.exception('pipeline %r: unexpected error in the worker', self._name)

    def _process(self, frame: PendingFrame) -> None:
        start = self._clock()
        age_ms = (start - frame.received_at) * 1e3
        max_age = self._max_age_ms
        if max_age > 0.0 and age_ms > max_age:
            self.counters.increment('dropped_stale')
            return
        with self._cond:
            runner = self._runner
        if runner is None:
            self.counters.increment('dropped_no_engine')
            return
        frame.timings['queue'] = age_ms
        try:
            self._handle_frame(frame, runner)
        except ImageDecodeError as exc:
            self.counters.increment('rejected')
            self._call_on_error(frame, exc)
            return
        except Exception as exc:  # noqa: B902 - any failure is counted, the worker goes on
            self.counters.increment('failed')
            self._call_on_error(frame, exc)
            return
        self.counters.increment('processed')
        frame.timings['total'] = (self._clock() - frame.received_at) * 1e3
        if self.latency is not None:
            for stage, ms in frame.timings.items():
                self.latency.record(stage, ms)

    def _call_on_error(self, frame: PendingFrame, exc: BaseException) -> None:
        if self._on_error is None:
            return
        try:
            self._on_error(frame, exc)
        except Exception:  # noqa: B902 - a callback must not kill the worker
            _LOG.exception('pipeline %r: on_error callback raised', self._name)


def _deactivate_quietly(runner: Runner) -> None:
    """Deactivate ``runner``, logging (not raising) what its backend throws."""
    try:
        runner.deactivate()
    except Exception:  # noqa: B902 - freeing must not take a thread down
        _LOG.exception('deactivating runner %r failed', getattr(runner, 'name', runner))
