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

"""scripts/setup.sh lets the venv see JetPack's system-wide TensorRT on a Jetson."""

import os
from pathlib import Path
import subprocess
from typing import Dict

REPO = Path(__file__).resolve().parents[1]


def _venv_options(tegra_release: Path, *args: str) -> str:
    env: Dict[str, str] = dict(os.environ, ACCEL_TEGRA_RELEASE=str(tegra_release))
    result = subprocess.run(['bash', str(REPO / 'scripts' / 'setup.sh'), *args,
                             '--show-venv-options'], env=env, capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_jetson_gets_system_site_packages(tmp_path: Path) -> None:
    release = tmp_path / 'nv_tegra_release'
    release.write_text('# R36 (release), REVISION: 4.0, GCID: 37537400, BOARD: generic\n')
    jetson = _venv_options(release)
    assert '--system-site-packages' in jetson and 'Jetson' in jetson
    assert '--system-site-packages' not in _venv_options(release, '--no-system-site-packages')


def test_other_machines_keep_an_isolated_venv_unless_asked(tmp_path: Path) -> None:
    absent = tmp_path / 'absent'
    assert '--system-site-packages' not in _venv_options(absent)
    assert '--system-site-packages' in _venv_options(absent, '--system-site-packages')
