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

"""The installed package has colcon's ament_python layout, the one ``ros2 run`` relies on.

``ros2 run accel_ai_ros <exe>`` looks for ``<prefix>/lib/accel_ai_ros/<exe>`` with the prefix
from the ament index; launch files and parameter files come from
``share/accel_ai_ros``. scripts/setup.sh installs the package that way into .venv.
"""

import ast
import os
from pathlib import Path
import subprocess
from typing import List

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = 'accel_ai_ros'


def _console_scripts() -> List[str]:
    """Return the console script names that setup.py declares."""
    tree = ast.parse((REPO / 'setup.py').read_text(encoding='utf-8'))
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values):
                if isinstance(key, ast.Constant) and key.value == 'console_scripts':
                    specs = ast.literal_eval(value)
                    return [spec.split('=')[0].strip() for spec in specs]
    raise AssertionError('setup.py declares no console_scripts')


@pytest.fixture(scope='module')
def prefix() -> Path:
    """Return the ament prefix accel_ai_ros is installed in, or skip."""
    packages = pytest.importorskip('ament_index_python.packages',
                                   reason='ament_index_python is not installed')
    try:
        return Path(packages.get_package_prefix(PACKAGE))
    except (packages.PackageNotFoundError, OSError):
        pytest.skip(f'{PACKAGE} is not installed in an ament prefix (AMENT_PREFIX_PATH='
                    f"{os.environ.get('AMENT_PREFIX_PATH', '')!r}); run bash scripts/setup.sh")


@pytest.fixture(scope='module')
def share(prefix: Path) -> Path:
    """Return share/accel_ai_ros as the ament index reports it."""
    from ament_index_python.packages import get_package_share_directory
    path = Path(get_package_share_directory(PACKAGE))
    assert path == prefix / 'share' / PACKAGE
    return path


def test_ament_index_marker(prefix: Path) -> None:
    marker = prefix / 'share' / 'ament_index' / 'resource_index' / 'packages' / PACKAGE
    assert marker.is_file()


def test_executables_where_ros2_run_looks(prefix: Path) -> None:
    lib = prefix / 'lib' / PACKAGE
    names = _console_scripts()
    assert names
    missing = [n for n in names if not (lib / n).is_file() or not os.access(lib / n, os.X_OK)]
    assert not missing, f'not executable files in {lib}: {missing}'


def test_share_files(share: Path) -> None:
    assert (share / 'package.xml').is_file()
    launch = sorted(p.name for p in (REPO / 'launch').glob('*.launch.py'))
    assert launch, 'launch/ has no *.launch.py'
    assert sorted(p.name for p in (share / 'launch').glob('*.launch.py')) == launch
    configs = sorted(p.name for p in (REPO / 'config').glob('*.yaml'))
    assert configs, 'config/ has no *.yaml'
    installed = {p.name for p in (share / 'config').iterdir()}
    assert set(configs) <= installed
    assert 'fastdds_localhost.xml' in installed


def test_installed_script_runs(prefix: Path) -> None:
    exe = prefix / 'lib' / PACKAGE / 'make_demo_models'
    if not exe.is_file():
        pytest.fail(f'{exe} is missing')
    proc = subprocess.run([str(exe), '--help'], capture_output=True, text=True, timeout=120,
                          cwd=REPO)
    assert proc.returncode == 0, f'{exe} --help exited {proc.returncode}:\n' \
        f'{proc.stdout}{proc.stderr}'
    assert 'usage' in proc.stdout.lower()
