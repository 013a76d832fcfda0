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

"""Optional backend libraries, imported only when asked for.

``import accel_ai_ros`` never imports ONNX Runtime, TensorRT or PyTorch. A runner asks
:func:`require_backend` for its library when it activates; diagnostics and tools ask
:func:`available_backends` which libraries this machine can use and, for those it cannot, why
(the recorded import error). Results are cached per process.
"""

import importlib
from types import ModuleType
from typing import Dict
from typing import Optional
from typing import Tuple

from accel_ai_ros.errors import BackendUnavailableError
from accel_ai_ros.errors import ParameterError

#: Every backend name this package knows, in order of preference for ONNX models.
BACKENDS: Tuple[str, ...] = ('onnxruntime', 'tensorrt', 'torch')

#: Python module that each backend needs.
MODULES: Dict[str, str] = {
    'onnxruntime': 'onnxruntime',
    'tensorrt': 'tensorrt',
    'torch': 'torch',
}

#: What to install when a backend's module cannot be imported.
INSTALL_HINTS: Dict[str, str] = {
    'onnxruntime': ('install ONNX Runtime: pip install onnxruntime (CPU) or '
                    'pip install onnxruntime-gpu (CUDA, TensorRT execution providers)'),
    'tensorrt': ('install TensorRT for your CUDA version: pip install tensorrt, or on Jetson '
                 'use the python3-libnvinfer package that JetPack provides'),
    'torch': ('install PyTorch with CUDA support: pip install torch '
              '(see https://pytorch.org/get-started/locally/ for the CUDA wheel index)'),
}

# name -> imported module, or the text of the error that importing it raised
_cache: Dict[str, object] = {}


#: An attribute the real library has and a stub-only or placeholder package lacks.
_REQUIRED_ATTRIBUTE = {'tensorrt': 'Runtime', 'torch': 'Tensor'}


def _check_name(name: str) -> None:
    """Raise ParameterError when ``name`` is not a known backend."""
    if name not in MODULES:
        raise ParameterError(
            f'unknown backend {name!r}; choose one of {", ".join(BACKENDS)}')


def _import(name: str) -> object:
    """Import the module of backend ``name`` once; return it or the error text."""
    _check_name(name)
    if name not in _cache:
        try:
            module = importlib.import_module(MODULES[name])
            marker = _REQUIRED_ATTRIBUTE.get(name)
            if marker and not hasattr(module, marker):
                raise ImportError(f'{MODULES[name]} has no {marker}: only type stubs or a '
                                  'placeholder package are installed')
            _cache[name] = module
        except Exception as error:  # noqa: B902 - broken CUDA libraries raise OSError etc.
            text = ' '.join(str(error).split()) or type(error).__name__
            _cache[name] = f'{type(error).__name__}: {text}'
    return _cache[name]


def backend_error(name: str) -> Optional[str]:
    """Return None when backend ``name`` can be imported, else the import error text."""
    result = _import(name)
    return result if isinstance(result, str) else None


def available_backends() -> Dict[str, Optional[str]]:
    """Map every backend in :data:`BACKENDS` to None (importable) or its import error text.

    Never raises for a missing or broken library: that is what it reports.
    """
    return {name: backend_error(name) for name in BACKENDS}


def require_backend(name: str) -> ModuleType:
    """Import and return the module of backend ``name``.

    Raises BackendUnavailableError with the import error and what to install when it cannot
    be imported, and ParameterError when ``name`` is not a known backend.
    """
    result = _import(name)
    if isinstance(result, str):
        raise BackendUnavailableError(
            f'the {name} backend is unavailable ({result}); {INSTALL_HINTS[name]}, '
            f'or choose another backend ({", ".join(b for b in BACKENDS if b != name)})')
    assert isinstance(result, ModuleType)
    return result
