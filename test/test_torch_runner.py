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

"""TorchRunner: .pt2 and TorchScript loading, safety, CUDA graphs, precisions, GPU run_image.

:func:`pt2_from_onnx` is the contract suite's 'torch' engine builder: it rebuilds the test
ONNX models (Conv, Relu, GlobalAveragePool, Flatten, Gemm, Reshape, Softmax, Sigmoid) as a
torch module from their initializers and ``torch.export``-s it. CPU tests need PyTorch; GPU
tests need CUDA and skip with the reason otherwise.
"""

from pathlib import Path
from typing import Any
from typing import Dict
from typing import List

from models import make_classifier
from models import make_dynamic_model
from models import make_two_output_model
import numpy as np
import onnx
from onnx import numpy_helper
import pytest

from accel_ai_ros.backends.registry import backend_error
from accel_ai_ros.errors import EngineError
from accel_ai_ros.errors import InferenceError
from accel_ai_ros.errors import ParameterError
from accel_ai_ros.image_codec import DecodedImage
from accel_ai_ros.preprocess import PreprocessSpec

SUPPORTED_OPS = ('Conv', 'Relu', 'GlobalAveragePool', 'Flatten', 'Gemm', 'Reshape', 'Softmax',
                 'Sigmoid')


def _torch() -> Any:
    """Return torch, or skip the test when it cannot be imported."""
    error = backend_error('torch')
    if error is not None:
        pytest.skip(f'torch is unavailable: {error}')
    import torch
    return torch


def _cuda() -> Any:
    """Return torch when CUDA and cuda-python work, else skip naming what is missing."""
    torch = _torch()
    if not torch.cuda.is_available():
        pytest.skip('no CUDA device (GPU tests run on a GPU machine)')
    from accel_ai_ros.gpu import cuda
    problem = cuda.is_available(0)
    if problem:
        pytest.skip(problem)
    return torch


def _attrs(node: onnx.NodeProto) -> Dict[str, Any]:
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def onnx_to_module(onnx_path: Path) -> Any:
    """Return a torch module computing the ONNX model (the test models' ops only)."""
    torch = _torch()
    functional = torch.nn.functional
    model = onnx.load(str(onnx_path))
    unsupported = sorted({n.op_type for n in model.graph.node} - set(SUPPORTED_OPS))
    if unsupported:
        pytest.skip(f'the test ONNX-to-torch converter does not handle {unsupported}')
    weights = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    input_names = [i.name for i in model.graph.input if i.name not in weights]
    output_names = [o.name for o in model.graph.output]
    nodes = list(model.graph.node)

    class OnnxModule(torch.nn.Module):
        """The ONNX graph, interpreted op by op (traced away by torch.export)."""

        def __init__(self) -> None:
            super().__init__()
            self.keys = {}
            for i, (name, value) in enumerate(weights.items()):
                if value.dtype == np.float32:
                    self.register_buffer(f'w{i}', torch.from_numpy(value.copy()))
                    self.keys[name] = f'w{i}'

        def forward(self, input: Any) -> Dict[str, Any]:  # noqa: A002 - the ONNX name
            env: Dict[str, Any] = {input_names[0]: input}
            for name, key in self.keys.items():
                env[name] = getattr(self, key)
            for node in nodes:
                a = _attrs(node)
                x = [env[n] if n in env else weights.get(n) for n in node.input]
                if node.op_type == 'Conv':
                    pads = a.get('pads', [0, 0, 0, 0])
                    y = functional.conv2d(x[0], x[1], x[2] if len(x) > 2 else None,
                                          stride=a.get('strides', 1), padding=pads[:2],
                                          dilation=a.get('dilations', 1),
                                          groups=a.get('group', 1))
                elif node.op_type == 'Relu':
                    y = torch.relu(x[0])
                elif node.op_type == 'Sigmoid':
                    y = torch.sigmoid(x[0])
                elif node.op_type == 'GlobalAveragePool':
                    y = x[0].mean(dim=(2, 3), keepdim=True)
                elif node.op_type == 'Flatten':
                    y = torch.flatten(x[0], a.get('axis', 1))
                elif node.op_type == 'Gemm':
                    w = x[1].t() if a.get('transB', 0) else x[1]
                    y = a.get('alpha', 1.0) * (x[0] @ w) + a.get('beta', 1.0) * x[2]
                elif node.op_type == 'Reshape':
                    shape = [int(s) if s else int(x[0].shape[i]) for i, s in enumerate(x[1])]
                    y = x[0].reshape(shape)
                else:  # Softmax
                    y = torch.softmax(x[0], dim=a.get('axis', -1))
                env[node.output[0]] = y
            return {name: env[name] for name in output_names}

    return OnnxModule().eval(), model


def pt2_from_onnx(onnx_path: Path, tmp_path: Path) -> Path:
    """Export the torch equivalent of ``onnx_path`` as ``<tmp_path>/<stem>.pt2``."""
    torch = _torch()
    module, model = onnx_to_module(onnx_path)
    shape = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    example = (torch.zeros(shape),)
    program = torch.export.export(module, example)
    out = tmp_path / f'{onnx_path.stem}.pt2'
    torch.export.save(program, str(out))
    return out


def _reference(onnx_path: Path, feed: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
    import onnxruntime as ort
    session = ort.InferenceSession(str(onnx_path), providers=['CPUExecutionProvider'])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, feed)))


def _feed(shape: List[int], seed: int = 0) -> Dict[str, np.ndarray]:
    return {'input': np.random.default_rng(seed).standard_normal(shape).astype(np.float32)}


# -- CPU ---------------------------------------------------------------------------------------

def test_pt2_on_cpu_matches_onnxruntime(tmp_path: Path) -> None:
    """A .pt2 runs on the CPU without CUDA graphs and matches ONNX Runtime."""
    from accel_ai_ros.backends.torch.runner import TorchRunner
    onnx_path = make_two_output_model(tmp_path / 'm.onnx')
    with TorchRunner(pt2_from_onnx(onnx_path, tmp_path), device='cpu') as runner:
        assert not runner.uses_cuda_graph
        assert [o.name for o in runner.outputs()] == ['scores', 'boxes']
        feed = _feed([1, 3, 32, 32])
        got, want = runner.infer(feed), _reference(onnx_path, feed)
        for name in want:
            np.testing.assert_allclose(got[name], want[name], rtol=1e-4, atol=1e-5)


def test_dynamic_shapes(tmp_path: Path) -> None:
    """A program exported with dynamic batch/height/width describes them and runs any size."""
    torch = _torch()
    from accel_ai_ros.backends.torch.runner import TorchRunner
    module, _ = onnx_to_module(make_dynamic_model(tmp_path / 'd.onnx'))
    batch, side = torch.export.Dim('batch', max=64), torch.export.Dim('side', min=4, max=512)
    program = torch.export.export(module, (torch.zeros(2, 3, 16, 16),),
                                  dynamic_shapes={'input': {0: batch, 2: side, 3: side}})
    path = tmp_path / 'd.pt2'
    torch.export.save(program, str(path))
    with TorchRunner(path, device='cpu') as runner:
        shape = runner.inputs()[0].shape
        assert shape[1] == 3 and all(isinstance(d, str) for d in (shape[0], shape[2]))
        assert runner.infer(_feed([3, 3, 24, 24]))['logits'].shape == (3, 10)


def test_refuses_pickled_modules(tmp_path: Path) -> None:
    """A pickled .pt module is refused without unpickling it; the message says what to do."""
    torch = _torch()
    from accel_ai_ros.backends.torch.runner import TorchRunner
    path = tmp_path / 'm.pt'
    torch.save(torch.nn.Linear(2, 2), str(path))
    with pytest.raises(EngineError, match='arbitrary code') as info:
        TorchRunner(path, device='cpu').activate()
    assert str(path) in str(info.value) and 'torch.export.save' in str(info.value)
    state = tmp_path / 'state.pt'
    torch.save({'w': torch.zeros(2)}, str(state))
    with pytest.raises(EngineError, match='state dicts'):
        TorchRunner(state, device='cpu').activate()
    with pytest.raises(ParameterError, match='fp16'):
        TorchRunner(path, precision='int4')


def test_torchscript_needs_shapes(tmp_path: Path) -> None:
    """A TorchScript module takes its input shapes from input_shapes or a sidecar JSON."""
    torch = _torch()
    from accel_ai_ros.backends.torch.runner import TorchRunner
    onnx_path = make_classifier(tmp_path / 'c.onnx')
    module, _ = onnx_to_module(onnx_path)
    path = tmp_path / 'c.ts'
    torch.jit.trace(module, (torch.zeros(1, 3, 32, 32),), strict=False).save(str(path))
    with pytest.raises(EngineError, match='input_shapes'):
        TorchRunner(path, device='cpu').activate()
    feed = _feed([1, 3, 32, 32])
    want = _reference(onnx_path, feed)['logits']
    with TorchRunner(path, device='cpu', input_shapes={'input': (1, 3, 32, 32)}) as runner:
        assert runner.outputs()[0].shape == (1, 10)
        np.testing.assert_allclose(runner.infer(feed)['logits'], want, rtol=1e-4, atol=1e-5)
    (tmp_path / 'c.ts.json').write_text(
        '{"inputs": [{"name": "input", "shape": [1, 3, 32, 32]}], "outputs": ["logits"]}')
    with TorchRunner(path, device='cpu') as runner:
        assert [o.name for o in runner.outputs()] == ['logits']
        np.testing.assert_allclose(runner.infer(feed)['logits'], want, rtol=1e-4, atol=1e-5)


def test_cpu_run_image_uses_cpu_preprocessing(tmp_path: Path) -> None:
    """On the CPU, run_image falls back to the CPU preprocessor and infers."""
    from accel_ai_ros.backends.torch.runner import TorchRunner
    path = pt2_from_onnx(make_classifier(tmp_path / 'c.onnx'), tmp_path)
    image = DecodedImage(np.full((48, 64, 3), 100, np.uint8), 'bgr')
    with TorchRunner(path, device='cpu') as runner:
        out, transform = runner.run_image(image, PreprocessSpec(32, 32))
        assert out['logits'].shape == (1, 10) and transform.image_width == 64


# -- CUDA --------------------------------------------------------------------------------------

def test_cuda_graph_matches_eager_and_reference(tmp_path: Path) -> None:
    """The replayed CUDA graph gives the eager result and ONNX Runtime's at FP32."""
    _cuda()
    from accel_ai_ros.backends.torch.runner import TorchRunner
    onnx_path = make_two_output_model(tmp_path / 'm.onnx')
    path = pt2_from_onnx(onnx_path, tmp_path)
    feed = _feed([1, 3, 32, 32], seed=3)
    want = _reference(onnx_path, feed)
    with TorchRunner(path) as graphed, TorchRunner(path, cuda_graph=False) as eager:
        assert graphed.uses_cuda_graph and not eager.uses_cuda_graph
        for _ in range(2):
            got, plain = graphed.infer(feed), eager.infer(feed)
            for name in want:
                np.testing.assert_allclose(got[name], want[name], rtol=1e-4, atol=1e-5)
                np.testing.assert_array_equal(got[name], plain[name])
        assert graphed.last_gpu_ms > 0.0


@pytest.mark.parametrize('precision, tolerance', [('fp16', 1e-2), ('bf16', 5e-2)])
def test_half_precisions(tmp_path: Path, precision: str, tolerance: float) -> None:
    """FP16 and BF16 runs return float32 outputs close to the FP32 reference."""
    _cuda()
    from accel_ai_ros.backends.torch.runner import TorchRunner
    onnx_path = make_classifier(tmp_path / 'c.onnx')
    feed = _feed([1, 3, 32, 32], seed=1)
    with TorchRunner(pt2_from_onnx(onnx_path, tmp_path), precision=precision) as runner:
        got = runner.infer(feed)['logits']
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, _reference(onnx_path, feed)['logits'],
                                   rtol=tolerance, atol=tolerance)


@pytest.mark.parametrize('precision', ['fp32', 'fp16'])
def test_gpu_run_image_matches_cpu_preprocessing(tmp_path: Path, precision: str) -> None:
    """run_image on CUDA (fused GPU preprocessing) matches CPU preprocessing + infer."""
    _cuda()
    from accel_ai_ros.backends.torch.runner import TorchRunner
    path = pt2_from_onnx(make_classifier(tmp_path / 'c.onnx'), tmp_path)
    rng = np.random.default_rng(0)
    image = DecodedImage(rng.integers(0, 256, (120, 200, 3), dtype=np.uint8), 'bgr')
    spec = PreprocessSpec(32, 32, resize_mode='letterbox')
    with TorchRunner(path, precision=precision) as runner:
        out, transform = runner.run_image(image, spec)
        assert runner.last_preprocess_ms > 0.0 and runner.last_gpu_ms > 0.0
        from accel_ai_ros.preprocess import CpuPreprocessor
        tensor, cpu_transform = CpuPreprocessor(spec)(image)
        assert transform == cpu_transform
        want = runner.infer({'input': tensor})['logits']
        tolerance = 2e-3 if precision == 'fp32' else 2e-2
        np.testing.assert_allclose(out['logits'], want, rtol=tolerance, atol=tolerance)
        with pytest.raises(InferenceError, match='input size'):
            runner.run_image(image, PreprocessSpec(64, 64))
