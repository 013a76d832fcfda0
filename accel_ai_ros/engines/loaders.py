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

"""Loaders: small callables named for what they make, in the style of Polygraphy.

``RunnerFromFile(path)()`` picks the backend from the file's suffix, constructs the runner,
activates it and warms it up, so the first real frame does not pay for lazy initialisation.
Backends other than ONNX Runtime live in modules that are imported only when asked for.
"""

import importlib
from pathlib import Path
from typing import Any
from typing import Callable
from typing import Type
from typing import Union

from accel_ai_ros.backends.base import activated
from accel_ai_ros.backends.base import Runner
from accel_ai_ros.backends.registry import backend_spec
from accel_ai_ros.backends.registry import BACKENDS
from accel_ai_ros.backends.registry import require_backend
from accel_ai_ros.backends.registry import SCHEMES
from accel_ai_ros.backends.registry import SUFFIXES
from accel_ai_ros.backends.registry import url_scheme
from accel_ai_ros.errors import BackendUnavailableError
from accel_ai_ros.errors import EngineError
from accel_ai_ros.errors import ParameterError
from accel_ai_ros.fileio import PathLike


def backend_for_path(path: PathLike) -> str:
    """Return the backend that runs ``path``, chosen by its suffix.

    An entry written as a URL (``triton://host:8001/model/1``) is picked by its scheme.
    Raises EngineError naming the accepted suffixes when the suffix is unknown.
    """
    scheme = url_scheme(path)
    if scheme:
        if scheme not in SCHEMES:
            raise EngineError(
                f'{str(path)!r}: unknown URL scheme {scheme!r}; accepted: '
                f'{", ".join(f"{s}:// ({b})" for s, b in SCHEMES.items())}')
        return SCHEMES[scheme]
    suffix = Path(path).suffix.lower()
    backend = SUFFIXES.get(suffix)
    if backend is None:
        accepted = ', '.join(f'{s} ({b})' for s, b in SUFFIXES.items())
        raise EngineError(
            f'cannot tell which backend runs {str(path)!r} from its suffix '
            f'{suffix or "(none)"!r}; accepted suffixes: {accepted}. Rename the file or set '
            f'the backend explicitly')
    return backend


def runner_class(backend: str) -> Type[Runner]:
    """Import and return the Runner subclass of ``backend``.

    Raises ParameterError for an unknown backend and BackendUnavailableError when its module
    or library is missing.
    """
    if backend not in BACKENDS:
        raise ParameterError(
            f'unknown backend {backend!r}; choose auto or one of {", ".join(BACKENDS)}')
    spec = backend_spec(backend)
    module_name, class_name = spec.runner_module, spec.runner_class_name
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name != module_name:
            raise BackendUnavailableError(
                f'the {backend} runner cannot be imported ({error}); install the missing '
                f'package or choose another backend') from None
        raise BackendUnavailableError(
            f'the {backend} backend is not part of this accel_ai_ros installation '
            f'({module_name} is missing); update accel_ai_ros or choose another backend '
            f'({", ".join(b for b in BACKENDS if b != backend)})') from None
    cls = getattr(module, class_name, None)
    if not (isinstance(cls, type) and issubclass(cls, Runner)):
        raise BackendUnavailableError(
            f'{module_name} has no Runner class {class_name}; update accel_ai_ros or choose '
            f'another backend')
    return cls


class RunnerFromFile:
    """Make an activated, warmed-up runner from an engine or model file.

    ``backend`` is 'auto' (chosen by :func:`backend_for_path`) or one of
    :data:`~accel_ai_ros.backends.registry.BACKENDS`. Keyword ``options`` go to the runner's
    constructor (:func:`~accel_ai_ros.backends.registry.runner_options` reads them from the
    node's parameters). ``warmup`` runs one inference on zeros when the input shapes are
    static.
    """

    def __init__(self, path: PathLike, backend: str = 'auto', warmup: bool = True,
                 **options: Any) -> None:
        """Remember what to load; nothing is loaded until the loader is called."""
        # A URL names a model on a server and stays a string (a Path would fold its '//').
        self.path: Union[Path, str] = str(path) if url_scheme(path) else Path(path)
        if backend != 'auto' and backend not in BACKENDS:
            raise ParameterError(
                f'unknown backend {backend!r}; choose auto or one of {", ".join(BACKENDS)}')
        self.backend = backend
        self.warmup = warmup
        self.options = dict(options)

    def resolved_backend(self) -> str:
        """Return the backend this loader uses for its file."""
        if self.backend == 'auto':
            return backend_for_path(self.path)
        if isinstance(self.path, str) and backend_for_path(self.path) != self.backend:
            raise ParameterError(
                f'{self.path!r} names a model on a {backend_for_path(self.path)} server, but '
                f'backend is {self.backend}; set backend to {backend_for_path(self.path)} or '
                'auto')
        return self.backend

    def __call__(self) -> Runner:
        """Construct, activate and warm up the runner; deactivate it again on failure."""
        backend = self.resolved_backend()
        if isinstance(self.path, Path) and not self.path.exists():
            raise EngineError(
                f'{str(self.path)!r} does not exist; check the engines.<precision> parameter '
                f'/ path')
        require_backend(backend)
        factory: Callable[..., Runner] = runner_class(backend)
        return activated(factory(self.path, **self.options), self.warmup)
