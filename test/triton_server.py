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

"""A real Triton Inference Server for tests: pytriton's bundled ``tritonserver`` on loopback.

PyPI's ``nvidia-pytriton`` wheel carries a real ``tritonserver`` (2.51 in 0.7.0) with only
Triton's Python backend, so the tests serve their ONNX models through a Python-backend model
that runs ONNX Runtime (``accel_ai_ros_tools.triton_repo``, kind ``python``). Its backend stub
links the system's ``libpython3.11``, so the server's own environment is a venv made from the
system ``/usr/bin/python3.11`` (``ACCEL_TRITON_PYTHON`` overrides it), built once under
``build/triton-server`` (a lock file keeps parallel runs from building it twice). It is only the
server's environment: the tests and the node talk to it with ``tritonclient`` from the project's
venv. The server listens on 127.0.0.1 only, on free ports, starts in explicit model-control mode
(tests load what they deploy) and exits one second after SIGTERM (``--exit-timeout-secs``).
Where the environment cannot be built or the server cannot start, :class:`ServerUnavailable`
carries the reason and the fixture skips with it.
"""

import fcntl
import json
import os
from pathlib import Path
import shutil
import signal
import socket
import subprocess
import sys
import time
from typing import Any
from typing import List
from typing import Optional
import urllib.error
import urllib.request

REPO = Path(__file__).resolve().parents[1]
VENV = REPO / 'build' / 'triton-server'
PYTHON = os.environ.get('ACCEL_TRITON_PYTHON', '/usr/bin/python3.11')
#: What the server's environment holds: the server itself, and what model.py imports.
PACKAGES = ('nvidia-pytriton==0.7.0', 'onnxruntime>=1.18', 'numpy>=1.24,<2.3')
_STAMP = VENV / '.accel_ai_ros_ready'


class ServerUnavailable(RuntimeError):
    """The Triton server cannot be built or started here (the tests skip with this)."""


def _tail(text: str, lines: int = 8) -> str:
    return ' | '.join(text.strip().splitlines()[-lines:])


def server_environment() -> Path:
    """Build (once) and return the venv that holds tritonserver; ServerUnavailable if not."""
    if _STAMP.is_file() and _STAMP.read_text() == '\n'.join(PACKAGES):
        return VENV
    if not Path(PYTHON).is_file():
        raise ServerUnavailable(
            f'{PYTHON} is absent: the Triton Python-backend stub links the system '
            'libpython3.11 (Debian/Ubuntu python3.11); set ACCEL_TRITON_PYTHON')
    VENV.parent.mkdir(parents=True, exist_ok=True)
    with open(VENV.parent / '.triton-server.lock', 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _STAMP.is_file() and _STAMP.read_text() == '\n'.join(PACKAGES):
            return VENV
        shutil.rmtree(VENV, ignore_errors=True)
        steps = [[PYTHON, '-m', 'venv', str(VENV)],
                 [str(VENV / 'bin' / 'python'), '-m', 'pip', 'install', '-q',
                  '--disable-pip-version-check', *PACKAGES]]
        for step in steps:
            done = subprocess.run(step, capture_output=True, text=True, timeout=900,
                                  check=False)
            if done.returncode != 0:
                raise ServerUnavailable(f'building the Triton server environment failed: '
                                        f'{" ".join(step[:4])}: {_tail(done.stderr)}')
        stub = _stub_source(VENV)
        shutil.copy(stub, _server_root(VENV) / 'backends' / 'python' / stub.name)
        _STAMP.write_text('\n'.join(PACKAGES))
    return VENV


def _server_root(venv: Path) -> Path:
    found = sorted(venv.glob('lib/python3*/site-packages/pytriton/tritonserver'))
    if not found:
        raise ServerUnavailable(f'no pytriton/tritonserver in {venv}')
    return found[0]


def _stub_source(venv: Path) -> Path:
    """Return pytriton's Python-backend stub for the venv's Python version."""
    version = subprocess.run([str(venv / 'bin' / 'python'), '-c',
                              'import sys; print("%d.%d" % sys.version_info[:2])'],
                             capture_output=True, text=True, check=True).stdout.strip()
    stub = _server_root(venv) / 'python_backend_stubs' / version / \
        'triton_python_backend_stub'
    if not stub.is_file():
        raise ServerUnavailable(f'pytriton has no Python-backend stub for Python {version}')
    return stub


def _die_with_parent() -> None:
    """Make the server get SIGTERM when the test process dies (Linux prctl PDEATHSIG)."""
    import ctypes
    try:
        ctypes.CDLL('libc.so.6', use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def free_port() -> int:
    """Return a TCP port free on 127.0.0.1 now."""
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return int(sock.getsockname()[1])


class TritonServer:
    """One tritonserver process on 127.0.0.1 serving ``repo`` (explicit model control)."""

    def __init__(self, venv: Path, repo: Path, log: Path) -> None:
        """Choose ports; nothing starts until :meth:`start`."""
        self.venv = venv
        self.repo = repo
        self.log = log
        self.grpc_port = free_port()
        self.http_port = free_port()
        self.process: Optional[subprocess.Popen] = None
        self.loaded: List[str] = []

    # -- process -----------------------------------------------------------------------
    def command(self) -> List[str]:
        """Return the server's command line."""
        root = _server_root(self.venv)
        return [str(root / 'bin' / 'tritonserver'), f'--model-repository={self.repo}',
                f'--backend-directory={root / "backends"}',
                '--http-address=127.0.0.1', f'--http-port={self.http_port}',
                '--grpc-address=127.0.0.1', f'--grpc-port={self.grpc_port}',
                '--allow-metrics=false', '--allow-sagemaker=false', '--allow-vertex-ai=false',
                '--model-control-mode=explicit', '--exit-timeout-secs=1',
                '--log-verbose=0', *[f'--load-model={name}' for name in self.loaded]]

    def start(self, timeout: float = 60.0) -> 'TritonServer':
        """Start the server and wait until it is ready; ServerUnavailable if it is not."""
        self.repo.mkdir(parents=True, exist_ok=True)
        root = _server_root(self.venv)
        env = dict(os.environ)
        libs = root.parent.parent / 'nvidia_pytriton.libs'
        env['LD_LIBRARY_PATH'] = os.pathsep.join(
            p for p in (str(libs), env.get('LD_LIBRARY_PATH', '')) if p)
        # The Python-backend stub finds its environment through the python3 on PATH.
        env['PATH'] = f'{self.venv / "bin"}{os.pathsep}{env.get("PATH", "")}'
        env.pop('PYTHONPATH', None)
        with open(self.log, 'ab') as log:
            self.process = subprocess.Popen(self.command(), stdout=log, stderr=log, env=env,
                                            start_new_session=True, preexec_fn=_die_with_parent)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerUnavailable(f'tritonserver exited with {self.process.returncode}: '
                                        f'{_tail(self.log.read_text(errors="replace"))}')
            if self._get('/v2/health/ready') == 200:
                return self
            time.sleep(0.1)
        self.stop()
        raise ServerUnavailable(f'tritonserver was not ready in {timeout:.0f} s: '
                                f'{_tail(self.log.read_text(errors="replace"))}')

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Stop the server (SIGTERM, or SIGKILL to make it vanish) and wait for it."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, sig)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=30)
        self.process = None

    def restart(self) -> None:
        """Start again on the same ports with the same models (a server coming back)."""
        self.start()

    # -- models ------------------------------------------------------------------------
    def url(self, model: str, protocol: str = 'grpc', version: str = '1') -> str:
        """Return the engine entry of ``model`` on this server."""
        if protocol == 'http':
            return f'triton+http://127.0.0.1:{self.http_port}/{model}/{version}'
        return f'triton://127.0.0.1:{self.grpc_port}/{model}/{version}'

    def deploy(self, onnx_path: Path, name: str, **options: Any) -> str:
        """Write ``onnx_path`` into the repository as a Python-backend model and load it."""
        from accel_ai_ros_tools.triton_repo import write_model
        write_model(self.repo, name, onnx_path, kind='python', **options)
        self.load(name)
        return self.url(name)

    def load(self, name: str, check: bool = True) -> None:
        """Load (or reload) ``name``; ServerUnavailable with the server's reason if it fails."""
        status, body = self._post(f'/v2/repository/models/{name}/load')
        if status != 200 and check:
            raise ServerUnavailable(f'loading {name} failed ({status}): {body}')
        if status == 200 and name not in self.loaded:
            self.loaded.append(name)

    def unload(self, name: str) -> None:
        """Unload ``name`` (the model becomes unavailable)."""
        self._post(f'/v2/repository/models/{name}/unload')
        if name in self.loaded:
            self.loaded.remove(name)

    def _get(self, path: str) -> int:
        try:
            with urllib.request.urlopen(f'http://127.0.0.1:{self.http_port}{path}',
                                        timeout=2) as answer:
                return int(answer.status)
        except urllib.error.HTTPError as error:
            return int(error.code)
        except OSError:
            return 0

    def _post(self, path: str) -> Any:
        request = urllib.request.Request(f'http://127.0.0.1:{self.http_port}{path}',
                                         data=b'{}', method='POST')
        try:
            with urllib.request.urlopen(request, timeout=120) as answer:
                return int(answer.status), answer.read().decode(errors='replace')
        except urllib.error.HTTPError as error:
            body = error.read().decode(errors='replace')
            try:
                body = json.loads(body).get('error', body)
            except ValueError:
                pass
            return int(error.code), body


def start_server(repo: Path, log: Path) -> TritonServer:
    """Build the environment if needed and start a server on ``repo``."""
    if sys.platform != 'linux':
        raise ServerUnavailable('pytriton ships tritonserver for Linux only')
    return TritonServer(server_environment(), repo, log).start()
