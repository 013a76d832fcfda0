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

"""Files written whole or not at all: a temporary file in the same folder, then a rename.

Every writer in the package (engines, manifests, models, reports, plots, caches) goes through
these two functions, so that an interrupted run never leaves a half-written file behind and a
reader sees either the old file or the complete new one.
"""

import contextlib
import hashlib
import os
from pathlib import Path
import tempfile
from typing import Iterator
from typing import Union

PathLike = Union[str, 'os.PathLike[str]']


def _fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable where the platform allows it."""
    try:
        fd = os.open(str(folder), os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_output(path: PathLike, suffix: str = '.tmp') -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path``.

    For writers that need a file name (``savefig``, ``onnx.save``, quantizers). On any
    exception the temporary file is removed, ``path`` keeps its old content, and the
    exception propagates. ``suffix`` lets tools that look at the extension see the right one.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f'.{target.name}.', suffix=suffix, dir=str(target.parent))
    tmp = Path(name)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)  # mkstemp makes 0600; give the usual file mode
        os.close(fd)
        yield tmp
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(target.parent)


def atomic_write(path: PathLike, data: Union[bytes, str]) -> Path:
    """Write ``data`` (text is UTF-8 encoded) to ``path`` atomically; return ``path``.

    Raises OSError (after removing the temporary file) when the folder is not writable or the
    disk is full; callers wrap it in their own error with the fix.
    """
    payload = data.encode('utf-8') if isinstance(data, str) else bytes(data)
    with atomic_output(path) as tmp:
        with open(tmp, 'wb') as stream:
            stream.write(payload)
            stream.flush()
            os.fsync(stream.fileno())
    return Path(path)


def check_model_file(path: Path, kind: str, fix: str) -> int:
    """Return the size of model file ``path``; raise EngineError when absent or empty.

    ``kind`` names the file in messages ('ONNX model'); ``fix`` says what to point the path at
    when it is a folder ('the .onnx file itself').
    """
    from accel_ai_ros.errors import EngineError
    if not path.exists():
        raise EngineError(f'{kind} {str(path)!r} does not exist; check the engines.<precision> '
                          f'parameter / path')
    if not path.is_file():
        raise EngineError(f'{kind} {str(path)!r} is not a file; point the engines.<precision> '
                          f'parameter / path at {fix}')
    size = path.stat().st_size
    if size == 0:
        raise EngineError(f'{kind} {str(path)!r} is empty (0 bytes); re-export the model or '
                          f're-copy the file')
    return size


def sha256_file(path: PathLike, chunk_size: int = 1 << 20) -> str:
    """Return the hex SHA-256 of a file, read in chunks; OSError when it cannot be read."""
    digest = hashlib.sha256()
    with open(path, 'rb') as stream:
        for chunk in iter(lambda: stream.read(chunk_size), b''):
            digest.update(chunk)
    return digest.hexdigest()
