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

"""Where an installed ROS interface package keeps its type descriptions (for hash tests)."""

import importlib
import json
from pathlib import Path

import pytest


def share_dir(package: str) -> Path:
    """Return share/<package> of the prefix that holds the imported ``package``."""
    module = importlib.import_module(package)
    package_dir = Path(list(module.__path__)[0]).resolve()
    # <prefix>/lib/pythonX.Y/site-packages/<package> or <prefix>/local/lib/...
    for parent in package_dir.parents:
        candidate = parent / 'share' / package
        if candidate.is_dir():
            return candidate
    pytest.fail(f'no share/{package} above {package_dir}; the install is incomplete')


def type_hash(description_file: Path, type_name: str) -> str:
    """Return the RIHS01 hash of ``type_name`` (pkg/msg/Name) in a type description file."""
    description = json.loads(description_file.read_text())
    hashes = {h['type_name']: h['hash_string'] for h in description['type_hashes']}
    return hashes[type_name]
