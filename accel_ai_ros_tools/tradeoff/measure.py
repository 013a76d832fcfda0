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

"""Measure one (variant, backend) in a fresh process: latency, throughput, memory, outputs.

:func:`measure_isolated` runs :func:`measure` in a new interpreter (``multiprocessing`` with
the *spawn* start method), so the peak resident memory it reports (``ru_maxrss``, the
kernel's VmHWM) belongs to that variant alone: Python, the libraries, the data set, the
engine and its arenas, never an earlier variant's. ``baseline_memory_mb`` is the resident
memory just before the engine is loaded, with the backend library already imported.

Two timed loops follow a warm-up of each: the node's exact path,
:meth:`~accel_ai_ros.frame_processor.FrameProcessor.process` on decoded images (preprocess,
infer, decode), cycling through the data set; and bare :meth:`Runner.infer` on one
preprocessed tensor. Throughput is frames per second of the sequential loop (one stream).
"""

from dataclasses import dataclass
from dataclasses import replace
import multiprocessing
import os
import platform
import resource
import shutil
import subprocess
import time
from typing import Any
from typing import Dict
from typing import List
from typing import Optional
from typing import Sequence

import numpy as np

from accel_ai_ros.backends.registry import require_backend
from accel_ai_ros.backends.registry import runner_options
from accel_ai_ros.engines.loaders import RunnerFromFile
from accel_ai_ros.frame_processor import FrameProcessor
from accel_ai_ros.frame_processor import ProcessingSettings
from accel_ai_ros.image_codec import DecodedImage
from accel_ai_ros.preprocess import CpuPreprocessor
from accel_ai_ros.stats import summarize
from accel_ai_ros.tasks.classification import TOP_K
from accel_ai_ros_tools.tradeoff.metrics import BoxLabel


@dataclass(frozen=True)
class Job:
    """What one measuring process needs (picklable)."""

    path: str
    backend: str
    settings: ProcessingSettings
    images: Sequence[DecodedImage]
    warmup: int = 20
    iterations: int = 200
    providers: Sequence[str] = ('CPUExecutionProvider',)
    intra_op_threads: int = 0


def percentiles(samples_ms: Sequence[float]) -> Dict[str, float]:
    """Return p50, p95 and p99 (linear interpolation) of ``samples_ms``."""
    summary = summarize(samples_ms)
    return {key: summary[key] for key in ('p50', 'p95', 'p99')}


def _status_mb(key: str) -> Optional[float]:
    """Return a ``/proc/self/status`` memory line (VmRSS, VmHWM) in MB, None off Linux."""
    try:
        with open('/proc/self/status', encoding='ascii') as f:
            for line in f:
                if line.startswith(key + ':'):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        return None
    return None


def peak_memory_mb() -> float:
    """Return this process's peak resident memory in MB (VmHWM, else ru_maxrss)."""
    hwm = _status_mb('VmHWM')
    if hwm is not None:
        return hwm
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return maxrss / (1024.0 * 1024.0) if platform.system() == 'Darwin' else maxrss / 1024.0


def _flat_outputs(outputs: Dict[str, np.ndarray]) -> np.ndarray:
    return np.concatenate([np.asarray(outputs[k], dtype=np.float32).ravel()
                           for k in sorted(outputs)])


def measure(job: Job) -> Dict[str, Any]:
    """Load the engine, collect its outputs on every image, then time both loops."""
    require_backend(job.backend)
    baseline = _status_mb('VmRSS')
    options = runner_options(job.backend, {'providers': job.providers,
                                           'intra_op_threads': job.intra_op_threads})
    runner = RunnerFromFile(job.path, backend=job.backend, **options)()
    try:
        settings = job.settings
        if settings.task == 'classification':  # at least 5 classes, for top-5 accuracy
            values = dict(settings.task_values)
            values[TOP_K.name] = max(5, int(values[TOP_K.name]))
            settings = replace(settings, task_values=tuple(values.items()))
        processor = FrameProcessor(settings)
        ranked: List[List[int]] = []
        boxes: List[List[BoxLabel]] = []
        raw: List[np.ndarray] = []
        for image in job.images:
            result = processor.process(image, runner)
            ranked.append([c.class_id for c in result.classes])
            boxes.append([BoxLabel(d.x1, d.y1, d.x2, d.y2, d.class_id, d.score)
                          for d in result.detections])
            raw.append(_flat_outputs(result.raw))
        count = len(job.images)
        for i in range(job.warmup):
            processor.process(job.images[i % count], runner)
        node_ms: List[float] = []
        loop_start = time.perf_counter()
        for i in range(job.iterations):
            start = time.perf_counter()
            processor.process(job.images[i % count], runner)
            node_ms.append((time.perf_counter() - start) * 1e3)
        node_s = time.perf_counter() - loop_start
        tensor, _ = CpuPreprocessor(processor.spec_for(runner))(job.images[0])
        feed = {runner.inputs()[0].name: np.array(tensor, copy=True)}
        for _ in range(job.warmup):
            runner.infer(feed)
        infer_ms: List[float] = []
        loop_start = time.perf_counter()
        for _ in range(job.iterations):
            start = time.perf_counter()
            runner.infer(feed)
            infer_ms.append((time.perf_counter() - start) * 1e3)
        infer_s = time.perf_counter() - loop_start
        description = runner.describe()
    finally:
        runner.deactivate()
    return {
        'node': percentiles(node_ms), 'node_fps': job.iterations / node_s,
        'infer': percentiles(infer_ms), 'infer_fps': job.iterations / infer_s,
        'peak_memory_mb': peak_memory_mb(), 'baseline_memory_mb': baseline,
        'ranked': ranked, 'boxes': boxes, 'raw': raw, 'engine': description,
    }


def measure_isolated(job: Job) -> Dict[str, Any]:
    """Run :func:`measure` in a fresh spawned process and return its result.

    An AccelAiError raised there (backend missing, engine unreadable) is raised here.
    """
    context = multiprocessing.get_context('spawn')
    with context.Pool(processes=1, maxtasksperchild=1) as pool:
        return dict(pool.apply(measure, (job,)))


def cpu_model() -> str:
    """Return the CPU model name ('' when unknown)."""
    try:
        with open('/proc/cpuinfo', encoding='utf-8', errors='replace') as f:
            for line in f:
                if line.lower().startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def gpu_name() -> Optional[str]:
    """Return the GPU names nvidia-smi lists, or None without an NVIDIA GPU."""
    smi = shutil.which('nvidia-smi')
    if smi is None:
        return None
    try:
        out = subprocess.run([smi, '--query-gpu=name', '--format=csv,noheader'],
                             capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    names = [n.strip() for n in out.stdout.splitlines() if n.strip()]
    return ', '.join(names) if out.returncode == 0 and names else None


def machine_info() -> Dict[str, Any]:
    """Return CPU model, cores, GPU (or None), OS, architecture and 1-minute load.

    The load average (taken when the report is assembled) tells a reader whether other work
    competed for the CPU while the figures were measured.
    """
    try:
        load: Optional[float] = round(os.getloadavg()[0], 2)
    except OSError:
        load = None
    return {'cpu_model': cpu_model(), 'cores': os.cpu_count() or 0, 'gpu': gpu_name(),
            'os': f'{platform.system()} {platform.release()}', 'arch': platform.machine(),
            'load_average_1min': load}


def library_versions(backends: Sequence[str]) -> Dict[str, Any]:
    """Return the versions of Python, NumPy, OpenCV, accel_ai_ros and each backend used."""
    import cv2

    import accel_ai_ros
    versions: Dict[str, Any] = {'python': platform.python_version(),
                                'numpy': np.__version__, 'opencv': cv2.__version__,
                                'accel_ai_ros': accel_ai_ros.__version__}
    for name in backends:
        try:
            module = require_backend(name)
            versions[name] = str(getattr(module, '__version__', 'unknown'))
        except Exception as error:  # noqa: B902 - recorded, not raised
            versions[name] = f'unavailable: {error}'
    return versions
