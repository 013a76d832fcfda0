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

"""The variants manifest, ``variants.json``, that the trade-off benchmark reads.

Format 1 (keep it)::

    {"format": 1,
     "source": {"path": str, "sha256": str},
     "preprocessing": {"resize_mode", "channel_order", "scale", "mean", "std", "layout",
                       "pad_value"},
     "task": str,
     "variants": [{"name": "fp32" | "fp16" | "int8" | other,
                   "precision": "fp32" | "fp16" | "int8",
                   "path": "relative/file.onnx", "sha256": str, "size_bytes": int,
                   "notes": str, "options": {...}}]}

Variant paths are relative to the manifest's folder. Every file here is written atomically
(a temp file in the same folder, then ``os.replace``), so a reader never sees half a file.
"""

import json
import os
from pathlib import Path
from typing import Any
from typing import Dict
from typing import Mapping
from typing import Optional

from accel_ai_ros.fileio import atomic_write
from accel_ai_ros.fileio import sha256_file
from accel_ai_ros.params import PRECISIONS
from accel_ai_ros_tools.variants import VariantError

MANIFEST_FORMAT = 1
MANIFEST_FILE = 'variants.json'
PREPROCESSING_FIELDS = ('resize_mode', 'channel_order', 'scale', 'mean', 'std', 'layout',
                        'pad_value')


def file_sha256(path: Path) -> str:
    """Return the SHA-256 of a file, read in 1 MiB blocks."""
    return sha256_file(path)


def new_manifest(source: Path, preprocessing: Mapping[str, Any], task: str) -> Dict[str, Any]:
    """Return an empty manifest for the FP32 model ``source``."""
    missing = [k for k in PREPROCESSING_FIELDS if k not in preprocessing]
    if missing:
        raise VariantError(f'the preprocessing misses {", ".join(missing)}')
    return {
        'format': MANIFEST_FORMAT,
        'source': {'path': str(source), 'sha256': file_sha256(Path(source))},
        'preprocessing': {k: preprocessing[k] for k in PREPROCESSING_FIELDS},
        'task': str(task),
        'variants': [],
    }


def add_variant(manifest: Dict[str, Any], manifest_dir: Path, name: str, precision: str,
                path: Path, notes: str = '',
                options: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
    """
    Record the model file ``path`` as variant ``name``; return the new entry.

    The file's hash and size are read now; its path is stored relative to
    ``manifest_dir``. An entry of the same name is replaced in place.
    """
    if precision not in PRECISIONS:
        raise VariantError(f'precision {precision!r} is not one of {", ".join(PRECISIONS)}')
    path = Path(path)
    if not path.is_file():
        raise VariantError(f'variant file {path} does not exist')
    entry = {
        'name': str(name), 'precision': precision,
        'path': os.path.relpath(path.resolve(), Path(manifest_dir).resolve()),
        'sha256': file_sha256(path), 'size_bytes': int(path.stat().st_size),
        'notes': str(notes), 'options': dict(options or {}),
    }
    variants = manifest.setdefault('variants', [])
    for i, old in enumerate(variants):
        if old.get('name') == name:
            variants[i] = entry
            break
    else:
        variants.append(entry)
    return entry


def write_manifest(path: Path, manifest: Mapping[str, Any]) -> Path:
    """Write ``manifest`` as JSON to ``path`` (a file, or a folder for variants.json)."""
    path = Path(path)
    if path.is_dir():
        path = path / MANIFEST_FILE
    text = json.dumps(manifest, indent=2, sort_keys=False) + '\n'
    return atomic_write(path, text.encode('utf-8'))


def read_manifest(path: Path) -> Dict[str, Any]:
    """Read and check a manifest (a file, or a folder holding variants.json)."""
    path = Path(path)
    if path.is_dir():
        path = path / MANIFEST_FILE
    try:
        with open(path, encoding='utf-8') as f:
            data = json.load(f)
    except OSError as exc:
        raise VariantError(f'cannot read the variants manifest {path} ({exc.strerror}); '
                           f'write it with make_variants') from None
    except ValueError as exc:
        raise VariantError(f'{path} is not valid JSON ({exc}); write it again with '
                           f'make_variants') from None
    if not isinstance(data, dict) or data.get('format') != MANIFEST_FORMAT:
        raise VariantError(f'{path} is not a variants manifest of format {MANIFEST_FORMAT}; '
                           f'write it again with make_variants')
    for key in ('source', 'preprocessing', 'task', 'variants'):
        if key not in data:
            raise VariantError(f'{path} has no "{key}"; write it again with make_variants')
    for variant in data['variants']:
        for key in ('name', 'precision', 'path', 'sha256', 'size_bytes', 'notes', 'options'):
            if key not in variant:
                raise VariantError(f'a variant in {path} has no "{key}"; write it again '
                                   f'with make_variants')
    return data
