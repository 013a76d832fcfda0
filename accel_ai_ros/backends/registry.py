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

"""The one table of backends, and their optional libraries, imported only when asked for.

:data:`BACKEND_TABLE` says, per backend: its name, the file suffixes it runs, the Python
library it needs and what to install when that is missing, where its runner class lives and
which node parameters become options of that runner. The parameter choices, the loaders, the
node's selection, the trade-off study and the benchmarks all read it: adding a backend is one
row here and one folder ``accel_ai_ros/backends/<name>/``.

``import accel_ai_ros`` never imports ONNX Runtime, TensorRT or PyTorch. A runner asks
:func:`require_backend` for its library when it activates; diagnostics and tools ask
:func:`available_backends` which libraries this machine can use and, for those it cannot, why
(the recorded import error). Results are cached per process.
"""

from dataclasses import dataclass
import importlib
from types import ModuleType
from typing import Any
from typing import Callable
from typing import Dict
from typing import Mapping
from typing import Optional
from typing import Tuple

from accel_ai_ros.errors import BackendUnavailableError
from accel_ai_ros.errors import error_text
from accel_ai_ros.errors import ParameterError


@dataclass(frozen=True)
class BackendSpec:
    """One backend: what it runs, what it needs, and how the node configures its runner.

    ``parameters`` lists ``(runner keyword, node parameter, conversion)``: the runner is built
    as ``Runner(path, keyword=conversion(values[parameter]), ...)``. ``required_attribute`` is
    an attribute the real library has and a stub-only or placeholder package lacks.
    ``schemes`` are URL schemes of engine entries that name a server instead of a file.
    """

    name: str
    suffixes: Tuple[str, ...]
    module: str
    install_hint: str
    runner: str
    parameters: Tuple[Tuple[str, str, Callable[[Any], Any]], ...] = ()
    required_attribute: str = ''
    schemes: Tuple[str, ...] = ()

    @property
    def runner_module(self) -> str:
        """Return the module that holds the runner class."""
        return self.runner.rpartition('.')[0]

    @property
    def runner_class_name(self) -> str:
        """Return the runner class's name."""
        return self.runner.rpartition('.')[2]


#: Every backend, in order of preference for ONNX models.
BACKEND_TABLE: Tuple[BackendSpec, ...] = (
    BackendSpec(
        'onnxruntime', ('.onnx',), 'onnxruntime',
        'install ONNX Runtime: pip install onnxruntime (CPU) or pip install onnxruntime-gpu '
        '(CUDA, TensorRT execution providers)',
        'accel_ai_ros.backends.onnxruntime.runner.OnnxRuntimeRunner',
        (('providers', 'providers', tuple), ('intra_op_threads', 'intra_op_threads', int))),
    BackendSpec(
        'tensorrt', ('.engine', '.plan', '.trt'), 'tensorrt',
        'install TensorRT for your CUDA version: pip install tensorrt, or on Jetson use the '
        'python3-libnvinfer package that JetPack provides',
        'accel_ai_ros.backends.tensorrt.runner.TensorRTRunner',
        (('device', 'gpu_device', int), ('allow_plugins', 'allow_engine_plugins', bool)),
        required_attribute='Runtime'),
    BackendSpec(
        'torch', ('.pt2', '.ts', '.pt'), 'torch',
        'install PyTorch with CUDA support: pip install torch '
        '(see https://pytorch.org/get-started/locally/ for the CUDA wheel index)',
        'accel_ai_ros.backends.torch.runner.TorchRunner',
        (('gpu_device', 'gpu_device', int),), required_attribute='Tensor'),
    BackendSpec(
        'triton', (), 'tritonclient.grpc',
        "install Triton's client: pip install 'tritonclient[grpc,http]'",
        'accel_ai_ros.backends.triton.runner.TritonRunner',
        (('timeout_ms', 'triton.timeout_ms', float),
         ('shared_memory', 'triton.shared_memory', str)),
        required_attribute='InferenceServerClient',
        schemes=('triton', 'triton+grpc', 'triton+http')),
)

#: Every backend name this package knows, in order of preference for ONNX models.
BACKENDS: Tuple[str, ...] = tuple(spec.name for spec in BACKEND_TABLE)

_SPECS: Dict[str, BackendSpec] = {spec.name: spec for spec in BACKEND_TABLE}

#: Python module that each backend needs.
MODULES: Dict[str, str] = {spec.name: spec.module for spec in BACKEND_TABLE}

#: What to install when a backend's module cannot be imported.
INSTALL_HINTS: Dict[str, str] = {spec.name: spec.install_hint for spec in BACKEND_TABLE}

#: File suffix (lower case) -> backend that runs such files.
SUFFIXES: Dict[str, str] = {suffix: spec.name for spec in BACKEND_TABLE
                            for suffix in spec.suffixes}

#: URL scheme (lower case) -> backend whose engine entries are such URLs.
SCHEMES: Dict[str, str] = {scheme: spec.name for spec in BACKEND_TABLE
                           for scheme in spec.schemes}


def url_scheme(entry: object) -> str:
    """Return the lower-case scheme of an engine entry written as a URL, '' for a path."""
    text = entry if isinstance(entry, str) else ''
    scheme, separator, _ = text.partition('://')
    return scheme.lower() if separator and scheme and '/' not in scheme else ''


def backend_spec(name: str) -> BackendSpec:
    """Return the table row of backend ``name``; ParameterError when there is none."""
    _check_name(name)
    return _SPECS[name]


def runner_options(name: str, values: Mapping[str, Any]) -> Dict[str, Any]:
    """Return the runner keyword arguments of backend ``name`` read from parameter ``values``.

    Parameters absent from ``values`` are left out, so the runner's defaults apply.
    """
    return {keyword: convert(values[parameter])
            for keyword, parameter, convert in backend_spec(name).parameters
            if parameter in values}


# name -> imported module, or the text of the error that importing it raised
_cache: Dict[str, object] = {}


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
            marker = _SPECS[name].required_attribute
            if marker and not hasattr(module, marker):
                raise ImportError(f'{MODULES[name]} has no {marker}: only type stubs or a '
                                  'placeholder package are installed')
            _cache[name] = module
        except Exception as error:  # noqa: B902 - broken CUDA libraries raise OSError etc.
            text = error_text(error)
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
