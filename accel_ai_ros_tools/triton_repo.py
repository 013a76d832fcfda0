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

"""A Triton model repository from ONNX models: ``DIR/<model>_<precision>/<version>/``.

Each model gets ``model.onnx`` and a ``config.pbtxt`` that ``tritonserver --model-repository
DIR`` loads as it is. Three kinds:

- ``onnxruntime``: Triton's ONNX Runtime backend (platform ``onnxruntime_onnx``).
- ``tensorrt``: the same ONNX file through ONNX Runtime with Triton's TensorRT accelerator
  (FP16 for fp16 and int8 variants), so the server builds the TensorRT engine for its own GPU
  and TensorRT version; a prebuilt ``.plan`` would only run on the GPU it was built for.
- ``python``: Triton's Python backend running ONNX Runtime (``model.py`` beside the ONNX file),
  for servers that carry only the Python backend (pytriton's bundled server, the tests).

A model whose inputs and outputs all have a dynamic first dimension is batched by the server:
``max_batch_size``, ``dynamic_batching`` with a preferred batch size and a queue delay. A model
with a fixed batch (the shared face detector: 1x3x240x320) gets ``max_batch_size: 0``: Triton
can only batch models with a batch dimension. Files are written atomically.
"""

from pathlib import Path
import re
import shutil
from typing import Any
from typing import Dict
from typing import List
from typing import Sequence
from typing import Tuple

from accel_ai_ros.errors import AccelAiError
from accel_ai_ros.fileio import atomic_write

#: Repository kinds this writer knows.
KINDS = ('onnxruntime', 'tensorrt', 'python')

#: ONNX element type -> Triton config data type.
_ONNX_TO_TRITON = {1: 'TYPE_FP32', 2: 'TYPE_UINT8', 3: 'TYPE_INT8', 4: 'TYPE_UINT16',
                   5: 'TYPE_INT16', 6: 'TYPE_INT32', 7: 'TYPE_INT64', 9: 'TYPE_BOOL',
                   10: 'TYPE_FP16', 11: 'TYPE_FP64', 12: 'TYPE_UINT32', 13: 'TYPE_UINT64'}

#: The Python-backend model: ONNX Runtime on the CPU, requests of one batch run together.
PYTHON_MODEL = '''\
"""Triton Python-backend model that runs model.onnx with ONNX Runtime (accel_ai_ros)."""

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    """Run model.onnx from this version folder; batched requests are run as one."""

    def initialize(self, args):
        """Open the ONNX Runtime session."""
        folder = Path(args['model_repository']) / args['model_version']
        options = ort.SessionOptions()
        options.log_severity_level = 3
        parameters = json.loads(args['model_config']).get('parameters', {})
        threads = int(parameters.get('intra_op_threads', {}).get('string_value', '0'))
        if threads:
            options.intra_op_num_threads = threads
        self.session = ort.InferenceSession(str(folder / 'model.onnx'), options,
                                            providers=['CPUExecutionProvider'])
        self.inputs = [i.name for i in self.session.get_inputs()]
        self.outputs = [o.name for o in self.session.get_outputs()]
        self.batched = BATCHED

    def execute(self, requests):
        """Answer every request; with a batch dimension, run them in one session call."""
        feeds = [{name: pb_utils.get_input_tensor_by_name(r, name).as_numpy()
                  for name in self.inputs} for r in requests]
        if self.batched and len(feeds) > 1:
            sizes = [len(feed[self.inputs[0]]) for feed in feeds]
            joined = {n: np.concatenate([f[n] for f in feeds]) for n in self.inputs}
            results = self.session.run(self.outputs, joined)
            splits = np.cumsum(sizes)[:-1]
            parts = [np.split(r, splits) for r in results]
            answers = [[part[i] for part in parts] for i in range(len(feeds))]
        else:
            answers = [self.session.run(self.outputs, feed) for feed in feeds]
        return [pb_utils.InferenceResponse(
            [pb_utils.Tensor(n, np.ascontiguousarray(a)) for n, a in zip(self.outputs, arrays)])
            for arrays in answers]
'''


class RepositoryError(AccelAiError):
    """A model cannot be written into a Triton repository."""


def model_name(stem: str, precision: str) -> str:
    """Return the repository name of one variant: ``<stem>_<precision>``, safe characters."""
    return re.sub(r'[^A-Za-z0-9_.-]', '_', f'{stem}_{precision}')


def _tensors(values: Sequence[Any], skip: Sequence[str]) -> List[Tuple[str, str, List[int]]]:
    """Return (name, Triton type, dims with -1 for dynamic) of ONNX value infos."""
    found = []
    for value in values:
        if value.name in skip:
            continue
        tensor = value.type.tensor_type
        data_type = _ONNX_TO_TRITON.get(tensor.elem_type)
        if data_type is None:
            raise RepositoryError(f'tensor {value.name!r} has ONNX type {tensor.elem_type}, '
                                  'which Triton configs here do not map; re-export the model')
        dims = [d.dim_value if d.HasField('dim_value') and d.dim_value > 0 else -1
                for d in tensor.shape.dim]
        found.append((value.name, data_type, dims))
    return found


def model_config(onnx_model: Any, name: str, kind: str, precision: str,
                 max_batch: int = 8, instances: int = 1, gpu: bool = True,
                 queue_delay_us: int = 500, threads: int = 0) -> str:
    """Return the config.pbtxt text of ``onnx_model`` served as ``name``.

    ``threads`` sets ONNX Runtime's intra-op threads of the python kind (0: its default).
    """
    if kind not in KINDS:
        raise RepositoryError(f'unknown repository kind {kind!r}; choose {", ".join(KINDS)}')
    initializers = [t.name for t in onnx_model.graph.initializer]
    inputs = _tensors(onnx_model.graph.input, initializers)
    outputs = _tensors(onnx_model.graph.output, ())
    batched = max_batch > 0 and all(dims and dims[0] == -1 for _, _, dims in inputs + outputs)
    lines = [f'name: "{name}"']
    if kind == 'python':
        lines.append('backend: "python"')
    else:
        lines.append('platform: "onnxruntime_onnx"')
    lines.append(f'max_batch_size: {max_batch if batched else 0}')
    for label, tensors in (('input', inputs), ('output', outputs)):
        body = ',\n'.join(
            f'  {{ name: "{n}" data_type: {t} dims: [ {", ".join(map(str, dims[1:] if batched else dims))} ] }}'  # noqa: E501
            for n, t, dims in tensors)
        lines.append(f'{label} [\n{body}\n]')
    if batched:
        preferred = sorted({max(1, max_batch // 2), max_batch})
        lines.append('dynamic_batching {\n'
                     f'  preferred_batch_size: [ {", ".join(map(str, preferred))} ]\n'
                     f'  max_queue_delay_microseconds: {queue_delay_us}\n}}')
    else:
        lines.append('# No dynamic batching: the model has a fixed batch dimension.')
    device = 'KIND_GPU' if gpu and kind != 'python' else 'KIND_CPU'
    lines.append(f'instance_group [ {{ kind: {device} count: {instances} }} ]')
    if kind == 'python' and threads:
        lines.append('parameters { key: "intra_op_threads" '
                     f'value: {{ string_value: "{int(threads)}" }} }}')
    if kind == 'tensorrt':
        mode = 'FP32' if precision == 'fp32' else 'FP16'
        lines.append(
            'optimization { execution_accelerators { gpu_execution_accelerator: [ {\n'
            '  name: "tensorrt"\n'
            f'  parameters {{ key: "precision_mode" value: "{mode}" }}\n'
            '  parameters { key: "max_workspace_size_bytes" value: "1073741824" }\n'
            '} ] } }')
    return '\n'.join(lines) + '\n'


def write_model(repo: Path, name: str, onnx_path: Path, kind: str = 'onnxruntime',
                precision: str = 'fp32', version: int = 1, **options: Any) -> Path:
    """Write ``repo/name/version/model.onnx`` and ``repo/name/config.pbtxt``; return the folder.

    ``options`` go to :func:`model_config` (max_batch, instances, gpu, queue_delay_us,
    threads).
    """
    import onnx

    onnx_path = Path(onnx_path)
    try:
        model = onnx.load(str(onnx_path))
    except Exception as error:  # noqa: B902 - protobuf's DecodeError and friends
        raise RepositoryError(f'{onnx_path} is not a readable ONNX model ({error})') from None
    folder = Path(repo) / name
    config = model_config(model, name, kind, precision, **options)
    version_dir = folder / str(int(version))
    version_dir.mkdir(parents=True, exist_ok=True)
    atomic_write(version_dir / 'model.onnx', onnx_path.read_bytes())
    if kind == 'python':
        batched = 'max_batch_size: 0' not in config
        atomic_write(version_dir / 'model.py',
                     PYTHON_MODEL.replace('BATCHED', str(batched)).encode())
    elif (version_dir / 'model.py').exists():
        (version_dir / 'model.py').unlink()
    atomic_write(folder / 'config.pbtxt', config.encode())
    return folder


def write_variants(repo: Path, manifest_path: Path, kind: str = 'onnxruntime',
                   name: str = '', **options: Any) -> Dict[str, Path]:
    """Write every variant of a make_variants manifest; return name -> model folder.

    Models are named ``<name>_<variant>``; ``name`` defaults to the source file's stem.
    """
    from accel_ai_ros_tools.variants import manifest as mf

    manifest = mf.read_manifest(manifest_path)
    base = Path(manifest_path)
    base = base if base.is_dir() else base.parent
    stem = name or Path(str(manifest['source']['path'])).stem
    written = {}
    for variant in manifest['variants']:
        model = model_name(stem, variant['name'])
        written[model] = write_model(repo, model, base / variant['path'], kind,
                                     variant['precision'], **options)
    return written


def remove_model(repo: Path, name: str) -> None:
    """Delete one model folder from the repository (nothing happens when it is absent)."""
    shutil.rmtree(Path(repo) / name, ignore_errors=True)
