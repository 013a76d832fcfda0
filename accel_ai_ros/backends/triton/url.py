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

"""Where a Triton model lives: ``triton://host:port/model/version`` engine entries.

An engine entry names the server and the model instead of a file. ``triton://`` (or
``triton+grpc://``) talks gRPC, the default, port 8001; ``triton+http://`` talks HTTP, port
8000. The version is optional (the server's latest). Examples::

    engines.fp16: triton://127.0.0.1:8001/face_detector_fp16/1
    engines.fp32: triton+http://gpu-server.local:8000/face_detector_fp32
"""

from dataclasses import dataclass
import ipaddress
from typing import Dict
from urllib.parse import urlsplit

from accel_ai_ros.errors import ParameterError

#: URL scheme -> protocol.
SCHEMES: Dict[str, str] = {'triton': 'grpc', 'triton+grpc': 'grpc', 'triton+http': 'http'}

#: Triton's default port per protocol.
DEFAULT_PORTS: Dict[str, int] = {'grpc': 8001, 'http': 8000}

#: How tensors travel: auto (system shared memory when the server is on this host, else the
#: wire), system (shared memory or refuse to activate), off (always the wire).
SHARED_MEMORY_MODES = ('auto', 'system', 'off')

_EXAMPLE = 'triton://127.0.0.1:8001/face_detector_fp16/1 (gRPC) or triton+http://host:8000/model'


@dataclass(frozen=True)
class TritonModelRef:
    """A model on a Triton server: protocol, host, port, model name and version ('' latest)."""

    protocol: str
    host: str
    port: int
    model: str
    version: str = ''

    @property
    def address(self) -> str:
        """Return ``host:port`` as tritonclient takes it (IPv6 hosts in brackets)."""
        host = f'[{self.host}]' if ':' in self.host else self.host
        return f'{host}:{self.port}'

    @property
    def is_local(self) -> bool:
        """Return True when the server is on this host (a loopback address or localhost)."""
        if self.host == 'localhost':
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False

    def with_model(self, model: str, version: str = '') -> 'TritonModelRef':
        """Return the same server with another model."""
        return TritonModelRef(self.protocol, self.host, self.port, model, version)

    def __str__(self) -> str:
        """Return the URL this reference was read from (the canonical spelling)."""
        scheme = 'triton' if self.protocol == 'grpc' else 'triton+http'
        tail = f'/{self.version}' if self.version else ''
        return f'{scheme}://{self.address}/{self.model}{tail}'


def is_triton_url(text: object) -> bool:
    """Return True when ``text`` is a string with one of the :data:`SCHEMES`."""
    return isinstance(text, str) and text.split('://', 1)[0].lower() in SCHEMES \
        and '://' in text


def parse_triton_url(text: str) -> TritonModelRef:
    """Read a ``triton://host:port/model[/version]`` entry; ParameterError names the form."""
    parts = urlsplit(text.strip())
    protocol = SCHEMES.get(parts.scheme.lower())
    if protocol is None:
        raise ParameterError(
            f'{text!r} is not a Triton model URL; write it as {_EXAMPLE}')
    try:
        port = parts.port or DEFAULT_PORTS[protocol]
    except ValueError:
        raise ParameterError(f'{text!r} has an invalid port; write it as {_EXAMPLE}') from None
    path = [p for p in parts.path.split('/') if p]
    if not parts.hostname or not 1 <= len(path) <= 2 or parts.query or parts.fragment:
        raise ParameterError(
            f'{text!r} must name a server and a model (and optionally a version): {_EXAMPLE}')
    version = path[1] if len(path) == 2 else ''
    if version and not version.isdigit():
        raise ParameterError(
            f'{text!r}: the model version {version!r} must be a number (or left out for the '
            f'latest): {_EXAMPLE}')
    return TritonModelRef(protocol, parts.hostname, port, path[0], version)
