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

"""What an engine file was built with, written beside it, and atomic file writes.

A TensorRT engine runs only with the TensorRT version and the GPU it was built for, and
nothing in the file says so in a form a user can read. :class:`SaveEngine
<accel_ai_ros.backends.tensorrt.build.SaveEngine>` therefore writes ``<engine>.json`` beside every
engine: TensorRT version, GPU name and compute capability, precision, the ONNX file's sha256,
the build options and the date. When an engine does not load, the error quotes it.

Everything here is pure Python (no TensorRT), so it is tested on real files everywhere.
"""

from dataclasses import asdict
from dataclasses import dataclass
from dataclasses import field
import datetime
import hashlib
import json
import logging
from pathlib import Path
from typing import Any
from typing import Dict
from typing import List
from typing import Optional
from typing import Union

from accel_ai_ros import fileio
from accel_ai_ros.errors import EngineError
from accel_ai_ros.fileio import PathLike

logger = logging.getLogger('accel_ai_ros')


#: Suffix appended to an engine's file name for its manifest (``m.engine`` -> ``m.engine.json``).
MANIFEST_SUFFIX = '.json'

#: Version of the manifest layout; a reader ignores fields it does not know.
MANIFEST_FORMAT = 1

_REQUIRED = ('trt_version', 'gpu_name', 'compute_capability', 'precision', 'onnx_sha256')
_TEXT_FIELDS = _REQUIRED + ('onnx_path', 'built_at')


@dataclass(frozen=True)
class PlatformInfo:
    """The TensorRT version and GPU that build or load engines in this process."""

    trt_version: str
    gpu_name: str
    compute_capability: str

    def describe(self) -> str:
        """Return e.g. 'TensorRT 10.3.0 on Orin (compute 8.7)'."""
        return (f'TensorRT {self.trt_version} on {self.gpu_name} '
                f'(compute {self.compute_capability})')


@dataclass(frozen=True)
class EngineManifest:
    """What one engine file was built from and for."""

    trt_version: str
    gpu_name: str
    compute_capability: str
    precision: str
    onnx_sha256: str
    onnx_path: str = ''
    build_options: Dict[str, Any] = field(default_factory=dict)
    built_at: str = ''
    manifest_format: int = MANIFEST_FORMAT

    @property
    def platform(self) -> PlatformInfo:
        """Return the platform the engine was built for."""
        return PlatformInfo(self.trt_version, self.gpu_name, self.compute_capability)

    def to_json(self) -> str:
        """Return the manifest as indented JSON text."""
        return json.dumps(asdict(self), indent=2, sort_keys=True) + '\n'

    @classmethod
    def from_json(cls, text: str) -> 'EngineManifest':
        """Parse a manifest; raise ValueError when it is not one."""
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError('a manifest is a JSON object')
        known = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        missing = [name for name in _REQUIRED if name not in known]
        if missing:
            raise ValueError(f'missing field(s) {", ".join(missing)}')
        for name in _TEXT_FIELDS:
            if name in known:
                known[name] = str(known[name])
        if not isinstance(known.get('build_options', {}), dict):
            raise ValueError('build_options must be an object')
        return cls(**known)

    def describe(self) -> str:
        """Return a one-line summary of what the engine was built with."""
        when = f' on {self.built_at[:10]}' if self.built_at else ''
        return f'{self.precision} engine built with {self.platform.describe()}{when}'


def now_iso() -> str:
    """Return the current UTC time as an ISO 8601 string (seconds)."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')


def make_manifest(platform: PlatformInfo, precision: str, onnx_path: PathLike,
                  build_options: Optional[Dict[str, Any]] = None,
                  onnx_sha256: str = '') -> EngineManifest:
    """Return the manifest of an engine built now from ``onnx_path`` on ``platform``."""
    return EngineManifest(
        trt_version=platform.trt_version, gpu_name=platform.gpu_name,
        compute_capability=platform.compute_capability, precision=precision,
        onnx_sha256=onnx_sha256 or model_sha256(onnx_path), onnx_path=str(onnx_path),
        build_options=dict(build_options or {}), built_at=now_iso())


def manifest_path(engine_path: PathLike) -> Path:
    """Return where the manifest of ``engine_path`` lives."""
    path = Path(engine_path)
    return path.with_name(path.name + MANIFEST_SUFFIX)


def sha256_file(path: PathLike, chunk_size: int = 1 << 20) -> str:
    """Return the hex sha256 of a file; EngineError naming the fix when it cannot be read."""
    try:
        return fileio.sha256_file(path, chunk_size)
    except OSError as error:
        raise EngineError(f'cannot read {str(path)!r} to hash it ({error.strerror or error}); '
                          f'check the path and its permissions') from None


def load_onnx_structure(path: PathLike) -> Any:
    """Load an ONNX model's graph without its external weights; EngineError naming the file."""
    import onnx
    try:
        return onnx.load(str(path), load_external_data=False)
    except Exception as error:  # noqa: B902 - onnx raises DecodeError, OSError, ...
        raise EngineError(f'cannot read ONNX model {str(path)!r} '
                          f'({" ".join(str(error).split()) or type(error).__name__}); '
                          f're-export the model or check the path') from None


def external_data_files(onnx_path: PathLike) -> List[Path]:
    """Return the external-data files (weights beside the model) that an ONNX file names.

    Reads the graph only (no weights), every subgraph included. Raises EngineError naming
    the file when the model cannot be read or a referenced file is missing.
    """
    import onnx
    path = Path(onnx_path)
    model = load_onnx_structure(path)
    locations = set()
    graphs = [model.graph]
    while graphs:
        graph = graphs.pop()
        tensors = list(graph.initializer)
        for node in graph.node:
            for attr in node.attribute:
                if attr.HasField('t'):
                    tensors.append(attr.t)
                tensors.extend(attr.tensors)
                if attr.HasField('g'):
                    graphs.append(attr.g)
                graphs.extend(attr.graphs)
        for tensor in tensors:
            if tensor.data_location == onnx.TensorProto.EXTERNAL:
                entries = {entry.key: entry.value for entry in tensor.external_data}
                if entries.get('location'):
                    locations.add(entries['location'])
    files = []
    for location in sorted(locations):
        data = path.parent / location
        if not data.is_file():
            raise EngineError(f'ONNX model {str(path)!r} keeps weights in {location!r}, which '
                              f'is missing beside it; copy the model together with its data '
                              f'file(s)')
        files.append(data)
    return files


def model_sha256(onnx_path: PathLike) -> str:
    """Return the sha256 of an ONNX model: its file plus every external-data file it names.

    Equal to :func:`sha256_file` for a self-contained model, so existing cache keys of such
    models stay valid; new weights in ``model.onnx.data`` under an unchanged graph change it.
    """
    digest = sha256_file(onnx_path)
    extra = external_data_files(onnx_path)
    if not extra:
        return digest
    combined = hashlib.sha256(digest.encode())
    for data in extra:
        combined.update(f'\n{data.name}:{sha256_file(data)}'.encode())
    return combined.hexdigest()


def _write_error(target: Path, error: OSError) -> EngineError:
    """Return the EngineError for a failed write of ``target``."""
    return EngineError(f'cannot write {str(target)!r} ({error.strerror or error}); check that '
                       f'the folder is writable and the disk is not full')


def atomic_write(path: PathLike, data: Union[bytes, str]) -> Path:
    """Write ``data`` to ``path`` so that readers see the old file or the whole new one.

    :func:`accel_ai_ros.fileio.atomic_write`, with a write failure (folder not writable, disk
    full) raised as an EngineError that says what to check.
    """
    target = Path(path)
    try:
        return fileio.atomic_write(target, data)
    except OSError as error:
        raise _write_error(target, error) from None


def write_manifest(engine_path: PathLike, manifest: EngineManifest) -> Path:
    """Write ``manifest`` beside ``engine_path`` atomically; return the manifest's path."""
    return atomic_write(manifest_path(engine_path), manifest.to_json())


def read_manifest(engine_path: PathLike) -> Optional[EngineManifest]:
    """Return the manifest beside ``engine_path``, or None when absent or unreadable.

    An unreadable manifest is logged as a warning: it only informs error messages and the
    rebuild decision, it never stops an engine from loading.
    """
    path = manifest_path(engine_path)
    if not path.is_file():
        return None
    try:
        return EngineManifest.from_json(path.read_text(encoding='utf-8'))
    except (OSError, ValueError, TypeError) as error:
        logger.warning('ignoring unreadable engine manifest %s: %s', path, error)
        return None


def platform_mismatches(built: PlatformInfo, here: PlatformInfo) -> List[str]:
    """List how the platform an engine was ``built`` for differs from ``here``.

    TensorRT engines are specific to the exact TensorRT version and to the GPU (compute
    capability); another GPU name with the same compute capability is reported too, since
    TensorRT may refuse the engine or run it with tactics chosen for another chip.
    """
    problems = []
    if built.trt_version != here.trt_version:
        problems.append(f'TensorRT {built.trt_version} (this process has '
                        f'{here.trt_version})')
    if built.compute_capability != here.compute_capability:
        problems.append(f'compute capability {built.compute_capability} (this GPU has '
                        f'{here.compute_capability})')
    if built.gpu_name != here.gpu_name:
        problems.append(f'GPU {built.gpu_name!r} (this one is {here.gpu_name!r})')
    return problems
