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

"""The engine cache, and the loader that uses a configured engine or rebuilds one.

As users of Isaac ROS know it (``model_file_path``, ``engine_file_path``,
``force_engine_update``): :class:`CachedEngineLoader` loads the configured engine when it
exists and deserializes; when it is missing, built for another TensorRT version or GPU, or
forced, and an ONNX source is configured, it builds one into :class:`EngineCache` (and says
so). Cache keys hold everything an engine depends on: GPU name, compute capability, TensorRT
version, precision, the ONNX file's sha256 and the build options.

The TensorRT-dependent pieces (platform information, the build function, the runner factory)
are injected, so the decisions are tested here on real files without TensorRT.
"""

from dataclasses import dataclass
import fcntl
import hashlib
import json
import logging
import os
from pathlib import Path
import re
from typing import Any
from typing import Callable
from typing import Dict
from typing import Mapping
from typing import Optional

from accel_ai_ros.backends.base import activated
from accel_ai_ros.backends.base import Runner
from accel_ai_ros.backends.tensorrt.build import EngineFromOnnx
from accel_ai_ros.backends.tensorrt.build import normalize_build_options
from accel_ai_ros.backends.tensorrt.build import PRECISIONS
from accel_ai_ros.backends.tensorrt.build import Progress
from accel_ai_ros.backends.tensorrt.manifest import atomic_write
from accel_ai_ros.backends.tensorrt.manifest import EngineManifest
from accel_ai_ros.backends.tensorrt.manifest import make_manifest
from accel_ai_ros.backends.tensorrt.manifest import model_sha256
from accel_ai_ros.backends.tensorrt.manifest import platform_mismatches
from accel_ai_ros.backends.tensorrt.manifest import PlatformInfo
from accel_ai_ros.backends.tensorrt.manifest import read_manifest
from accel_ai_ros.backends.tensorrt.manifest import write_manifest
from accel_ai_ros.backends.tensorrt.runner import TensorRTRunner
from accel_ai_ros.backends.tensorrt.util import device_platform
from accel_ai_ros.backends.tensorrt.util import EngineDeserializeError
from accel_ai_ros.errors import EngineError
from accel_ai_ros.errors import ParameterError
from accel_ai_ros.fileio import PathLike

logger = logging.getLogger('accel_ai_ros')

#: build(onnx_path, precision, timing_cache_path, progress, options) -> serialized engine.
BuildFunction = Callable[[Path, str, Path, Optional[Progress], Dict[str, Any]], bytes]
RunnerFactory = Callable[[Path], Runner]

#: Environment variable that overrides :func:`default_cache_dir`.
CACHE_ENV = 'ACCEL_AI_ROS_ENGINE_CACHE'


def default_cache_dir() -> Path:
    """Return $ACCEL_AI_ROS_ENGINE_CACHE, else $XDG_CACHE_HOME (~/.cache)/accel_ai_ros/engines."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get('XDG_CACHE_HOME') or os.path.join(os.path.expanduser('~'), '.cache')
    return Path(base) / 'accel_ai_ros' / 'engines'


def _slug(text: str) -> str:
    """Return ``text`` reduced to file-name-safe characters."""
    return re.sub(r'[^A-Za-z0-9.]+', '-', text).strip('-').lower() or 'x'


def cache_key(onnx_name: str, onnx_sha256: str, precision: str, platform: PlatformInfo,
              options: Optional[Mapping[str, Any]] = None) -> str:
    """Return the cache key of an engine: readable prefix plus a digest of every ingredient."""
    ingredients = {
        'gpu': platform.gpu_name, 'compute_capability': platform.compute_capability,
        'trt': platform.trt_version, 'precision': precision, 'onnx_sha256': onnx_sha256,
        'options': dict(options or {}),
    }
    digest = hashlib.sha256(json.dumps(ingredients, sort_keys=True, default=str).encode())
    return (f'{_slug(Path(onnx_name).stem)}.{precision}.sm{_slug(platform.compute_capability)}'
            f'.trt{_slug(platform.trt_version)}.{digest.hexdigest()[:16]}')


class EngineCache:
    """Engines built from ONNX files, one per key, each with its manifest; a timing cache.

    ``device`` is the CUDA device engines are built and keyed for; ``platform`` returns this
    process's :class:`PlatformInfo` (TensorRT and that GPU by default); ``builder`` builds an
    engine (TensorRT's builder on that device by default).
    """

    def __init__(self, cache_dir: Optional[PathLike] = None,
                 platform: Optional[Callable[[], PlatformInfo]] = None,
                 builder: Optional[BuildFunction] = None, device: int = 0) -> None:
        self.cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
        self.device = int(device)
        self._platform_fn = platform or (lambda: device_platform(self.device))
        self._platform: Optional[PlatformInfo] = None
        self.builder = builder or self._tensorrt_build

    def _tensorrt_build(self, onnx_path: Path, precision: str, timing_cache: Path,
                        progress: Optional[Progress], options: Dict[str, Any]) -> bytes:
        """Build with TensorRT on this cache's device."""
        return EngineFromOnnx(onnx_path, precision, timing_cache=timing_cache,
                              progress=progress, device=self.device, **options)()

    def platform(self) -> PlatformInfo:
        """Return (once) the platform engines are built and loaded on."""
        if self._platform is None:
            self._platform = self._platform_fn()
        return self._platform

    def key(self, onnx_path: PathLike, precision: str,
            options: Optional[Mapping[str, Any]] = None) -> str:
        """Return the key of the engine built from ``onnx_path`` at ``precision``."""
        if precision not in PRECISIONS:
            raise ParameterError(f'precision {precision!r} is not supported; use one of '
                                 f'{", ".join(PRECISIONS)}')
        return cache_key(Path(onnx_path).name, model_sha256(onnx_path), precision,
                         self.platform(), normalize_build_options(options))

    def path_for(self, key: str) -> Path:
        """Return where the engine of ``key`` lives."""
        return self.cache_dir / f'{key}.engine'

    @property
    def timing_cache_path(self) -> Path:
        """Return this platform's persisted TensorRT timing cache file."""
        info = self.platform()
        return self.cache_dir / (f'timing.{_slug(info.gpu_name)}.sm'
                                 f'{_slug(info.compute_capability)}.trt'
                                 f'{_slug(info.trt_version)}.cache')

    def load_timing_cache(self) -> bytes:
        """Return the timing cache's bytes (empty when there is none yet)."""
        path = self.timing_cache_path
        return path.read_bytes() if path.is_file() else b''

    def save_timing_cache(self, data: bytes) -> Path:
        """Persist the timing cache atomically."""
        return atomic_write(self.timing_cache_path, data)

    def lookup(self, key: str) -> Optional[Path]:
        """Return the cached engine of ``key`` when it is there, whole and for this platform."""
        path = self.path_for(key)
        if not path.is_file() or path.stat().st_size == 0:
            return None
        manifest = read_manifest(path)
        if manifest is None or platform_mismatches(manifest.platform, self.platform()):
            return None
        return path

    def store(self, key: str, engine: bytes, manifest: EngineManifest) -> Path:
        """Write an engine and its manifest atomically under ``key``; return its path."""
        path = self.path_for(key)
        atomic_write(path, engine)
        write_manifest(path, manifest)
        return path

    def get_or_build(self, onnx_path: PathLike, precision: str, force: bool = False,
                     progress: Optional[Progress] = None,
                     options: Optional[Mapping[str, Any]] = None) -> Path:
        """Return the cached engine for ``onnx_path``/``precision``, building it if needed.

        One process builds a key at a time (a lock file beside it); the others then find it.
        """
        onnx_path = Path(onnx_path)
        if not onnx_path.is_file():
            raise EngineError(f'ONNX model {str(onnx_path)!r} does not exist; check the '
                              f'model path parameter')
        opts = normalize_build_options(options)
        key = self.key(onnx_path, precision, opts)
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        with open(self.cache_dir / f'.{key}.lock', 'w') as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            found = None if force else self.lookup(key)
            if found is not None:
                return found
            say = progress or (lambda line: logger.info('%s', line))
            say(f'building {precision} engine from {onnx_path} into {self.path_for(key)} '
                f'({self.platform().describe()}); the first build takes minutes')
            engine = self.builder(onnx_path, precision, self.timing_cache_path, progress, opts)
            manifest = make_manifest(self.platform(), precision, onnx_path, opts)
            path = self.store(key, engine, manifest)
            say(f'built {path} ({len(engine) / 2**20:.1f} MiB)')
            return path


@dataclass(frozen=True)
class EnginePlan:
    """What the loader does: 'use' an engine file, 'build' from ONNX, or 'refuse' (why)."""

    action: str
    path: Optional[Path]
    reason: str


def plan_engine(engine_path: PathLike, onnx_path: PathLike, force: bool,
                manifest: Optional[EngineManifest] = None,
                platform: Optional[PlatformInfo] = None) -> EnginePlan:
    """Decide whether to use the configured engine, build from ONNX, or refuse.

    ``manifest`` is the configured engine's manifest and ``platform`` this process's; when
    both are known and differ, an ONNX source makes the loader rebuild without trying.
    """
    engine = Path(engine_path) if str(engine_path or '') else None
    onnx = Path(onnx_path) if str(onnx_path or '') else None
    if force:
        if onnx is None:
            return EnginePlan('refuse', engine, 'force_rebuild needs an ONNX source: set the '
                                                'ONNX model path, or turn force_rebuild off')
        return EnginePlan('build', None, f'force_rebuild is set: rebuilding from {onnx}')
    if engine is not None and engine.is_file() and engine.stat().st_size > 0:
        mismatches = (platform_mismatches(manifest.platform, platform)
                      if manifest is not None and platform is not None else [])
        if mismatches and onnx is not None:
            return EnginePlan('build', None, f'engine {engine} was built for '
                                             f'{", ".join(mismatches)}; rebuilding from {onnx} '
                                             f'into the engine cache')
        return EnginePlan('use', engine, f'using engine {engine}')
    if onnx is None:
        if engine is None:
            return EnginePlan('refuse', None, 'no engine and no ONNX source configured; set '
                                              'the engine path or the ONNX model path')
        return EnginePlan('refuse', engine, f'engine {engine} does not exist (or is empty) and '
                                            f'no ONNX source is configured; build it with '
                                            f'build_engine or set the ONNX model path')
    if engine is None:
        return EnginePlan('build', None, f'no engine configured: building from {onnx} into '
                                         f'the engine cache')
    return EnginePlan('build', None, f'engine {engine} does not exist (or is empty); building '
                                     f'from {onnx} into the engine cache')


def plan_after_failure(onnx_path: PathLike, error: str) -> EnginePlan:
    """Decide what follows a configured engine that failed to load."""
    if not str(onnx_path or ''):
        return EnginePlan('refuse', None, error)
    return EnginePlan('build', None, f'{error} -- rebuilding from {onnx_path} into the engine '
                                     f'cache')


class CachedEngineLoader:
    """Make an activated TensorRT runner from a configured engine or its ONNX source.

    Like :class:`~accel_ai_ros.engines.loaders.RunnerFromFile`, calling the loader returns an
    activated, warmed-up runner; ``engine_used`` then names the engine file it loaded.
    """

    def __init__(
        self, onnx_path: PathLike = '', engine_path: PathLike = '', precision: str = 'fp32',
        cache_dir: Optional[PathLike] = None, force_rebuild: bool = False,
        allow_plugins: bool = False, device: int = 0, warmup: bool = True,
        build_options: Optional[Mapping[str, Any]] = None,
        progress: Optional[Progress] = None, cache: Optional[EngineCache] = None,
        runner_factory: Optional[RunnerFactory] = None,
    ) -> None:
        if precision not in PRECISIONS:
            raise ParameterError(f'precision {precision!r} is not supported; use one of '
                                 f'{", ".join(PRECISIONS)}')
        self.onnx_path = str(onnx_path or '')
        self.engine_path = str(engine_path or '')
        self.precision = precision
        self.force_rebuild = bool(force_rebuild)
        self.allow_plugins = bool(allow_plugins)
        self.device = int(device)
        self.warmup = warmup
        self.build_options = dict(build_options or {})
        self.progress = progress
        self.cache = cache or EngineCache(cache_dir, device=self.device)
        self.runner_factory = runner_factory or self._tensorrt_runner
        self.engine_used: Optional[Path] = None

    def _tensorrt_runner(self, path: Path) -> Runner:
        return TensorRTRunner(path, device=self.device, allow_plugins=self.allow_plugins)

    def _load(self, path: Path) -> Runner:
        """Construct, activate and warm up a runner for ``path``."""
        runner = activated(self.runner_factory(path), self.warmup)
        self.engine_used = path
        return runner

    def plan(self) -> EnginePlan:
        """Return what calling the loader will do first."""
        manifest = read_manifest(self.engine_path) if self.engine_path else None
        platform = self.cache.platform() if manifest is not None and self.onnx_path else None
        return plan_engine(self.engine_path, self.onnx_path, self.force_rebuild, manifest,
                           platform)

    def __call__(self) -> Runner:
        """Load the configured engine, or build one from ONNX, and return the active runner."""
        plan = self.plan()
        if plan.action == 'use':
            assert plan.path is not None
            try:
                return self._load(plan.path)
            except EngineDeserializeError as error:  # not a context or memory failure

                plan = plan_after_failure(self.onnx_path, str(error))
                if plan.action == 'refuse':
                    raise
        if plan.action == 'refuse':
            raise EngineError(plan.reason)
        logger.warning('%s', plan.reason)
        path = self.cache.get_or_build(self.onnx_path, self.precision,
                                       force=self.force_rebuild, progress=self.progress,
                                       options=self.build_options)
        if self.engine_path:
            logger.warning('loading %s instead of %s; point the engine path at it to skip this '
                           'check', path, self.engine_path)
        return self._load(path)


def build_all(sources: Mapping[str, PathLike], cache_dir: Optional[PathLike] = None,
              force: bool = False, progress: Optional[Progress] = None,
              build_options: Optional[Mapping[str, Any]] = None,
              cache: Optional[EngineCache] = None) -> Dict[str, Path]:
    """Build (or find) the engine of every configured precision ahead of time.

    ``sources`` maps precision -> ONNX file (e.g. the node's ``engines.<precision>`` entries
    that are .onnx files); returns precision -> engine path.
    """
    cache = cache or EngineCache(cache_dir)
    return {precision: cache.get_or_build(onnx, precision, force=force, progress=progress,
                                          options=build_options)
            for precision, onnx in sources.items() if str(onnx or '')}
