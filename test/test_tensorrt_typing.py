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

"""Type-check the TensorRT adapter against TensorRT's published stubs (tensorrt-stubs, 10.x).

TensorRT cannot run on machines without an NVIDIA GPU, but its Python API can still be
checked: a call that does not exist in the API (``get_binding_shape``, ``max_batch_size``, a
misspelt attribute) fails here. The stubs are found through ``$TENSORRT_STUBS_DIR`` (a folder
holding ``tensorrt/__init__.pyi``) or an installed ``tensorrt-stubs`` distribution. Install
them *beside* the environment, since their ``tensorrt/`` folder would otherwise import as an
empty namespace package::

    pip install --no-deps --target .venv/trt-stubs tensorrt-stubs==10.13.0.35.1
    export TENSORRT_STUBS_DIR=$PWD/.venv/trt-stubs

The published stubs are generated from the pybind11 module and contain a few lines that are
not valid Python (a parameter named ``in``, a parameter without default after defaults);
they are repaired in a temporary copy, and errors inside the stubs themselves are ignored.
"""

import ast
import importlib.metadata
import os
from pathlib import Path
import re
import shutil
from typing import List
from typing import Optional

import pytest

REPO = Path(__file__).resolve().parents[1]
CHECKED = ['accel_ai_ros/backends/tensorrt/runner.py', 'accel_ai_ros/backends/tensorrt/util.py',
           'accel_ai_ros/backends/tensorrt/build.py']
STUB_PACKAGES = ('tensorrt', 'tensorrt_bindings')
MYPY_CONFIG = """[mypy]
python_version = 3.10
check_untyped_defs = True
no_implicit_optional = True
show_error_codes = True
[mypy-tensorrt,tensorrt.*,tensorrt_bindings,tensorrt_bindings.*]
ignore_errors = True
[mypy-cuda.*,onnx,onnx.*,cv2,cv2.*,onnxruntime,onnxruntime.*]
ignore_missing_imports = True
"""


def _stubs_root() -> Optional[Path]:
    """Return the folder that holds ``tensorrt/__init__.pyi``, or None."""
    configured = os.environ.get('TENSORRT_STUBS_DIR')
    if configured and (Path(configured) / 'tensorrt' / '__init__.pyi').is_file():
        return Path(configured)
    try:
        dist = importlib.metadata.distribution('tensorrt-stubs')
    except importlib.metadata.PackageNotFoundError:
        return None
    for file in dist.files or []:
        if str(file).replace('\\', '/') == 'tensorrt/__init__.pyi':
            return Path(str(dist.locate_file(file))).parents[1]
    return None


def _split_params(text: str) -> List[str]:
    """Split a parameter list on top-level commas."""
    parts, depth, current = [], 0, ''
    for char in text:
        depth += char in '([{'
        depth -= char in ')]}'
        if char == ',' and depth == 0:
            parts.append(current)
            current = ''
        else:
            current += char
    parts.append(current)
    return parts


def _repair(line: str) -> str:
    """Make one generated ``def`` line valid Python."""
    match = re.match(r'^(\s*def \w+\()(.*)(\)\s*->.*:\s*)$', line)
    if not match:
        return line
    try:
        ast.parse(line.strip() + ' ...')
        return line
    except SyntaxError:
        pass
    params, seen_default = [], False
    for param in _split_params(match.group(2)):
        param = re.sub(r'^(\s*)in:', r'\1in_:', param)
        if '=' in param:
            seen_default = True
        elif seen_default and param.strip() and not param.strip().startswith('*'):
            param += ' = ...'
        params.append(param)
    return match.group(1) + ','.join(params) + match.group(3)


def _copy_stubs(root: Path, target: Path) -> Path:
    """Copy and repair the stubs under ``target``; return the folder for MYPYPATH."""
    for package in STUB_PACKAGES:
        if (root / package).is_dir():
            shutil.copytree(root / package, target / package)
    for path in target.rglob('*.pyi'):
        lines = [_repair(line) for line in path.read_text(encoding='utf-8').splitlines()
                 if not re.match(r'^import tensorrt_libs\b', line)]
        path.write_text('\n'.join(lines) + '\n', encoding='utf-8')
    return target


@pytest.fixture
def mypy_with_stubs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore
    """Return a function running mypy on files with the TensorRT stubs; skip without them."""
    pytest.importorskip('mypy')
    root = _stubs_root()
    if root is None:
        pytest.skip('tensorrt-stubs is not installed (pip install --no-deps --target '
                    '.venv/trt-stubs tensorrt-stubs and set TENSORRT_STUBS_DIR)')
    from mypy import api
    stubs = _copy_stubs(root, tmp_path / 'stubs')
    config = tmp_path / 'mypy.ini'
    config.write_text(MYPY_CONFIG, encoding='utf-8')
    monkeypatch.setenv('MYPYPATH', str(stubs))
    monkeypatch.chdir(REPO)

    def run(files: List[str]) -> str:
        stdout, stderr, status = api.run(
            ['--config-file', str(config), '--cache-dir', str(tmp_path / 'cache')] + files)
        return f'status={status}\n{stdout}{stderr}'

    return run


def test_tensorrt_adapter_matches_the_api(mypy_with_stubs) -> None:  # type: ignore
    report = mypy_with_stubs(CHECKED)
    assert report.startswith('status=0'), report


def test_stubs_catch_calls_that_do_not_exist(
        mypy_with_stubs, tmp_path: Path) -> None:  # type: ignore
    """The check is real: TensorRT 8's binding API is reported as missing."""
    snippet = tmp_path / 'old_api.py'
    snippet.write_text(
        'import tensorrt as trt\n\n\n'
        'def shape(engine: trt.ICudaEngine) -> object:\n'
        '    return engine.get_binding_shape(0), engine.max_batch_size\n', encoding='utf-8')
    report = mypy_with_stubs([str(snippet)])
    assert 'get_binding_shape' in report and 'max_batch_size' in report, report
