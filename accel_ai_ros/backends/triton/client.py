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

"""One small surface over tritonclient's gRPC and HTTP clients, which differ in details.

gRPC takes a timeout per call and answers JSON with 64-bit numbers as strings; HTTP takes its
timeouts when the client is made and answers plain JSON. :class:`TritonClient` hides both and
turns the answers into plain Python values. tritonclient is imported by the caller (the runner,
through the backend table), never when this module is imported.
"""

import threading
from types import ModuleType
from typing import Any
from typing import Dict
from typing import List
from typing import Optional
from typing import Sequence

import numpy as np

from accel_ai_ros.backends.triton.url import TritonModelRef

#: Triton's tensor data types and the numpy dtypes this backend exchanges for them.
TRITON_DTYPES: Dict[str, np.dtype] = {
    'FP32': np.dtype(np.float32), 'FP16': np.dtype(np.float16), 'FP64': np.dtype(np.float64),
    'UINT8': np.dtype(np.uint8), 'INT8': np.dtype(np.int8), 'UINT16': np.dtype(np.uint16),
    'INT16': np.dtype(np.int16), 'UINT32': np.dtype(np.uint32), 'INT32': np.dtype(np.int32),
    'UINT64': np.dtype(np.uint64), 'INT64': np.dtype(np.int64), 'BOOL': np.dtype(np.bool_),
}

#: numpy dtype -> Triton data type name.
NUMPY_TO_TRITON: Dict[np.dtype, str] = {dtype: name for name, dtype in TRITON_DTYPES.items()}


class TritonClient:
    """A gRPC or HTTP tritonclient for one server, every call bounded by ``timeout_s``."""

    def __init__(self, module: ModuleType, ref: TritonModelRef, timeout_s: float) -> None:
        """Create the client (no request is sent yet)."""
        self.module = module
        self.ref = ref
        self.timeout_s = timeout_s
        self.is_grpc = ref.protocol == 'grpc'
        #: The thread that made the client (an HTTP client works only there: gevent).
        self.thread = threading.current_thread()
        if self.is_grpc:
            self._client = module.InferenceServerClient(url=ref.address)
            self._timeout: Dict[str, Any] = {'client_timeout': timeout_s}
        else:
            self._client = module.InferenceServerClient(
                url=ref.address, connection_timeout=timeout_s, network_timeout=timeout_s)
            self._timeout = {}

    def close(self) -> None:
        """Close the connection."""
        self._client.close()

    def is_server_live(self) -> bool:
        """Return whether the server says it is live."""
        return bool(self._client.is_server_live(**self._timeout))

    def is_model_ready(self, model: str, version: str) -> bool:
        """Return whether ``model`` (``version``; '' for the latest) is ready."""
        return bool(self._client.is_model_ready(model, version, **self._timeout))

    def repository_index(self) -> List[Dict[str, str]]:
        """Return the server's models with their version, state and reason."""
        if self.is_grpc:
            index = self._client.get_model_repository_index(as_json=True, **self._timeout)
            models = index.get('models', [])
        else:
            models = self._client.get_model_repository_index()
        return [{key: str(entry.get(key, '')) for key in ('name', 'version', 'state', 'reason')}
                for entry in models]

    def metadata(self, model: str, version: str) -> Dict[str, Any]:
        """Return the model metadata: inputs and outputs, shapes as ints."""
        if self.is_grpc:
            meta = self._client.get_model_metadata(model, version, as_json=True,
                                                   **self._timeout)
        else:
            meta = self._client.get_model_metadata(model, version)
        for key in ('inputs', 'outputs'):
            for tensor in meta.get(key, []):
                tensor['shape'] = [int(d) for d in tensor.get('shape', [])]
        return dict(meta)

    def config(self, model: str, version: str) -> Dict[str, Any]:
        """Return the model configuration as a dict."""
        if self.is_grpc:
            answer = self._client.get_model_config(model, version, as_json=True,
                                                   **self._timeout)
            return dict(answer.get('config', {}))
        return dict(self._client.get_model_config(model, version))

    def register_system_shm(self, name: str, key: str, byte_size: int) -> None:
        """Register a system shared-memory region with the server."""
        self._client.register_system_shared_memory(name, key, byte_size, **self._timeout)

    def unregister_system_shm(self, name: str) -> None:
        """Unregister a system shared-memory region (nothing happens if it is unknown)."""
        self._client.unregister_system_shared_memory(name, **self._timeout)

    def infer(self, model: str, version: str, inputs: Sequence[Any],
              outputs: Sequence[Any]) -> Any:
        """Run one inference request and return tritonclient's result."""
        return self._client.infer(model, list(inputs), model_version=version,
                                  outputs=list(outputs), **self._timeout)

    def output_shape(self, result: Any, name: str) -> Optional[List[int]]:
        """Return the shape of output ``name`` in ``result`` (None when it is absent)."""
        output = result.get_output(name)
        if output is None:
            return None
        shape = output.shape if self.is_grpc else output['shape']
        return [int(d) for d in shape]
