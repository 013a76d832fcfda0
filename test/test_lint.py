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

"""Lint the package the ament way (flake8, pep257, licence header), plus ruff and mypy.

Each linter is its own test and skips, saying why, only when its tool is not installed
(``bash scripts/setup.sh --dev`` installs them all).
"""

import importlib.util
import os
from pathlib import Path
import re
import shutil
import subprocess
import sys
from typing import List

import pytest

REPO = Path(__file__).resolve().parents[1]
SETUP_CFG = REPO / 'setup.cfg'
# What ament_python's package template lints, in this repository's layout.
LINT_PATHS = ['accel_ai_ros', 'accel_ai_ros_tools', 'test', 'launch', 'setup.py']
HEADER_LINES = 13
HEADER_RE = re.compile(r'# Copyright (\d{4})(-\d{4})? The accel_ai_ros Authors')


def _require(module: str) -> None:
    if importlib.util.find_spec(module) is None:
        pytest.skip(f'{module} is not installed (bash scripts/setup.sh --dev installs it)')


def _lint_paths() -> List[str]:
    return [p for p in LINT_PATHS if (REPO / p).exists()]


def _python_files() -> List[Path]:
    """List the repository's .py files: tracked ones and new ones git does not ignore."""
    if shutil.which('git') and (REPO / '.git').exists():
        out = subprocess.run(
            ['git', 'ls-files', '--cached', '--others', '--exclude-standard', '-z', '--',
             '*.py'],
            cwd=REPO, check=True, capture_output=True, text=True).stdout
        files = [REPO / name for name in out.split('\0') if name]
    else:
        skip = {'.venv', 'build', 'install', 'log', 'models', '.git'}
        files = [p for p in REPO.rglob('*.py')
                 if not skip.intersection(p.relative_to(REPO).parts[:1])]
    return sorted(p for p in files if p.is_file())


@pytest.mark.flake8
@pytest.mark.linter
def test_flake8(monkeypatch: pytest.MonkeyPatch) -> None:
    _require('ament_flake8')
    from ament_flake8.main import main_with_errors
    monkeypatch.chdir(REPO)
    # ament_flake8's own configuration plus this package's name (see [flake8] in setup.cfg).
    rc, errors = main_with_errors(argv=['--config', str(SETUP_CFG)] + _lint_paths())
    assert rc == 0, 'Found %d code style errors / warnings:\n' % len(errors) + \
        '\n'.join(errors)


@pytest.mark.pep257
@pytest.mark.linter
def test_pep257(monkeypatch: pytest.MonkeyPatch) -> None:
    _require('ament_pep257')
    from ament_pep257.main import main
    monkeypatch.chdir(REPO)
    # ament's convention, except D213: our multi-line docstrings start their summary on the
    # first line (PEP 257 allows both; ament_flake8's flake8-docstrings accepts it too).
    rc = main(argv=_lint_paths() + ['--add-ignore', 'D213'])
    assert rc == 0, 'Found code style errors / warnings (printed above)'


@pytest.mark.copyright
@pytest.mark.linter
def test_copyright() -> None:
    # ament_copyright has no PyPI wheel: check the Apache-2.0 header the same way here.
    reference = (REPO / 'accel_ai_ros' / 'errors.py').read_text(encoding='utf-8')
    expected = reference.splitlines()[1:HEADER_LINES]
    bad = []
    files = _python_files()
    assert files, 'no .py file found'
    for path in files:
        lines = path.read_text(encoding='utf-8').splitlines()
        if lines and lines[0].startswith('#!'):
            lines = lines[1:]
        if (len(lines) < HEADER_LINES or not HEADER_RE.fullmatch(lines[0])
                or lines[1:HEADER_LINES] != expected):
            bad.append(str(path.relative_to(REPO)))
    assert not bad, 'missing or altered Apache-2.0 header (copy the first %d lines of ' \
        'accel_ai_ros/errors.py):\n  %s' % (HEADER_LINES, '\n  '.join(bad))


@pytest.mark.linter
def test_ruff() -> None:
    _require('ruff')
    env = dict(os.environ, RUFF_CACHE_DIR=str(REPO / '.ruff_cache'))
    proc = subprocess.run(
        [sys.executable, '-m', 'ruff', 'check', '--output-format', 'concise',
         '--config', str(REPO / 'ruff.toml')] + _lint_paths(),
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f'ruff check (ruff.toml):\n{proc.stdout}{proc.stderr}'


@pytest.mark.linter
def test_mypy() -> None:
    _require('mypy')
    from mypy import api
    stdout, stderr, status = api.run(
        ['--config-file', str(SETUP_CFG), '--cache-dir', str(REPO / '.mypy_cache'),
         str(REPO / 'accel_ai_ros'), str(REPO / 'accel_ai_ros_tools')])
    assert status == 0, f'mypy (setup.cfg [mypy]):\n{stdout}{stderr}'
