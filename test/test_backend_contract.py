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

"""The contract every inference backend must pass, plus ONNX Runtime and loader specifics.

The parametrized tests run once per backend chosen with ``--backend`` (default: onnxruntime
and triton, the latter against a real server from test/triton_server.py); a chosen backend
whose library cannot be imported, or whose server cannot start, is skipped with the reason.
A backend other than ONNX Runtime turns the test's ONNX model into its own engine file through
:data:`ENGINE_BUILDERS`; its runner class is found by
:func:`accel_ai_ros.engines.loaders.runner_class` and constructed as ``cls(engine_path)``.
"""

import logging
import os
from pathlib import Path
import subprocess
import sys
from typing import Any
from typing import Callable
from typing import Dict
from typing import List

from models import make_classifier
from models import make_dynamic_model
from models import make_identity_model
from models import make_legacy_model
from models import make_two_output_model
import numpy as np
import onnx
from onnx import helper
from onnx import TensorProto
import pytest

from accel_ai_ros.backends.base import Runner
from accel_ai_ros.backends.base import TensorInfo
from accel_ai_ros.backends.onnxruntime.runner import OnnxRuntimeRunner
from accel_ai_ros.backends.registry import available_backends
from accel_ai_ros.backends.registry import BACKEND_TABLE
from accel_ai_ros.backends.registry import BACKENDS
from accel_ai_ros.backends.registry import MODULES
from accel_ai_ros.backends.registry import require_backend
from accel_ai_ros.backends.registry import runner_options
from accel_ai_ros.engines.loaders import backend_for_path
from accel_ai_ros.engines.loaders import runner_class
from accel_ai_ros.engines.loaders import RunnerFromFile
from accel_ai_ros.errors import BackendUnavailableError
from accel_ai_ros.errors import EngineError
from accel_ai_ros.errors import InferenceError
from accel_ai_ros.errors import ParameterError
from accel_ai_ros.params import BACKEND_CHOICES
from accel_ai_ros.params import PARAMETERS
from accel_ai_ros.params import SPECS
from accel_ai_ros_tools.variants.onnx_fixes import with_min_ir_version

REPO = Path(__file__).resolve().parents[1]

EngineBuilder = Callable[[Path, Path], Path]


def _onnx_as_is(onnx_path: Path, tmp_path: Path) -> Path:
    """ONNX Runtime runs the ONNX file itself."""
    return onnx_path


def _tensorrt_engine(onnx_path: Path, tmp_path: Path) -> Path:
    """Build a TensorRT engine with EngineFromOnnx + SaveEngine at PRECISIONS['tensorrt']."""
    from accel_ai_ros.backends.tensorrt.build import EngineFromOnnx
    from accel_ai_ros.backends.tensorrt.build import SaveEngine
    engine = tmp_path / f'{onnx_path.stem}.{PRECISIONS["tensorrt"]}.engine'
    return SaveEngine(EngineFromOnnx(onnx_path, PRECISIONS['tensorrt']), engine)()


#: The Triton server the 'triton' contract runs against (set by the ``library`` fixture).
TRITON: List[Any] = []


def _triton_model(onnx_path: Path, tmp_path: Path) -> str:
    """Serve the ONNX file from the test's Triton server; return its engine entry (a URL)."""
    from accel_ai_ros.fileio import sha256_file
    return TRITON[-1].deploy(onnx_path, f'm_{sha256_file(onnx_path)[:16]}')


def _not_implemented(onnx_path: Path, tmp_path: Path) -> Path:
    """Skip until this backend's engine builder exists."""
    pytest.skip('engine builder not implemented yet')


#: backend -> function(onnx_path, tmp_path) -> engine file the backend's runner loads. The
#: engine must be built at the precision named in PRECISIONS. Replace the skipping entries as
#: the builders land (e.g. ``lambda o, t: EngineFromOnnx(o, t / 'm.engine')()``).
ENGINE_BUILDERS: Dict[str, EngineBuilder] = {
    'onnxruntime': _onnx_as_is,
    'tensorrt': _tensorrt_engine,
    'torch': lambda onnx_path, tmp_path: __import__('test_torch_runner').pt2_from_onnx(
        onnx_path, tmp_path),
    'triton': _triton_model,  # type: ignore[dict-item] - a URL, not a file
}

#: backend -> precision its contract engine is built at.
PRECISIONS: Dict[str, str] = {'onnxruntime': 'fp32', 'tensorrt': 'fp32', 'torch': 'fp32',
                              'triton': 'fp32'}

#: precision -> (rtol, atol) against the ONNX Runtime FP32 reference.
TOLERANCES: Dict[str, float] = {'fp32': 1e-4, 'fp16': 1e-2, 'int8': 1e-1}

#: Allowed RSS growth over 200 load/activate/infer/deactivate cycles (ONNX Runtime measured
#: well under 2 MiB on x86-64; the bound is generous).
MAX_RSS_GROWTH_BYTES = 20 * 1024 * 1024


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize the ``backend`` fixture over the ``--backend`` choices."""
    if 'backend' in metafunc.fixturenames:
        # By default the local CPU backend and a real Triton server (skipped where none
        # can start), so that CI holds the triton backend to the same contract.
        chosen: List[str] = metafunc.config.getoption('backend') or ['onnxruntime', 'triton']
        unknown = [name for name in chosen if name not in BACKENDS]
        if unknown:
            raise pytest.UsageError(
                f'--backend {", ".join(unknown)} is unknown; choose from {", ".join(BACKENDS)}')
        metafunc.parametrize('backend', list(dict.fromkeys(chosen)))


@pytest.fixture
def library(backend: str, request: pytest.FixtureRequest) -> str:
    """Skip when the chosen backend's library cannot be imported; return the backend.

    The triton backend also needs a running server (the ``triton_server`` fixture).
    """
    error = available_backends()[backend]
    if error is not None:
        pytest.skip(f'{backend} is unavailable: {error}')
    if backend == 'triton':
        TRITON.append(request.getfixturevalue('triton_server'))
    return backend


def build_engine(backend: str, onnx_path: Path, tmp_path: Path) -> Path:
    """Return the engine file of ``backend`` made from ``onnx_path``."""
    return ENGINE_BUILDERS[backend](onnx_path, tmp_path)


def make_runner(backend: str, engine: Path) -> Runner:
    """Construct (but do not activate) the runner of ``backend`` for ``engine``."""
    factory: Callable[..., Runner] = runner_class(backend)
    return factory(engine)


def onnx_infos(path: Path, which: str) -> List[TensorInfo]:
    """Read the true inputs or the outputs of an ONNX file as TensorInfo."""
    model = onnx.load(str(path))
    initializers = {t.name for t in model.graph.initializer}
    values = model.graph.input if which == 'inputs' else model.graph.output
    infos = []
    for value in values:
        if value.name in initializers:
            continue
        tensor = value.type.tensor_type
        shape = tuple(d.dim_value if d.HasField('dim_value') else (d.dim_param or None)
                      for d in tensor.shape.dim)
        dtype = np.dtype(helper.tensor_dtype_to_np_dtype(tensor.elem_type))
        infos.append(TensorInfo(value.name, shape, dtype))
    return infos


def reference(onnx_path: Path, feed: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
    """Run ``onnx_path`` with a plain ONNX Runtime FP32 session on the CPU."""
    ort = require_backend('onnxruntime')
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(str(onnx_path), options, providers=['CPUExecutionProvider'])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, feed)))


def random_feed(infos: List[TensorInfo], seed: int = 0) -> Dict[str, np.ndarray]:
    """Return random float inputs for static ``infos``."""
    rng = np.random.default_rng(seed)
    return {i.name: rng.standard_normal([int(d) for d in i.shape]).astype(i.dtype)  # type: ignore
            for i in infos}


def rss_bytes() -> int:
    """Return this process's resident set size from /proc/self/statm."""
    with open('/proc/self/statm') as statm:
        return int(statm.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')


# -- the contract, per backend ---------------------------------------------------------------

@pytest.mark.parametrize('maker', [make_classifier, make_two_output_model, make_legacy_model])
def test_describes_inputs_and_outputs(library: str, tmp_path: Path,
                                      maker: Callable[..., Path]) -> None:
    """inputs() and outputs() list the ONNX model's names, shapes and dtypes in order."""
    onnx_path = maker(tmp_path / 'model.onnx')
    with make_runner(library, build_engine(library, onnx_path, tmp_path)) as runner:
        assert runner.backend_name == library
        assert runner.inputs() == onnx_infos(onnx_path, 'inputs')
        assert runner.outputs() == onnx_infos(onnx_path, 'outputs')
        assert [i.name for i in runner.inputs()] == ['input']
        assert 'input' in runner.describe()


@pytest.mark.parametrize('maker', [make_classifier, make_two_output_model])
def test_matches_onnxruntime_reference(library: str, tmp_path: Path,
                                       maker: Callable[..., Path]) -> None:
    """Outputs on a random input match ONNX Runtime FP32 within the precision's tolerance."""
    onnx_path = maker(tmp_path / 'model.onnx')
    tolerance = TOLERANCES[PRECISIONS[library]]
    with make_runner(library, build_engine(library, onnx_path, tmp_path)) as runner:
        for seed in range(3):
            feed = random_feed(runner.inputs(), seed)
            got = runner.infer(feed)
            want = reference(onnx_path, feed)
            assert sorted(got) == sorted(want)
            for name, array in want.items():
                assert isinstance(got[name], np.ndarray)
                assert got[name].shape == array.shape
                assert got[name].dtype == array.dtype
                np.testing.assert_allclose(got[name], array, rtol=tolerance, atol=tolerance)
        assert runner.last_inference_ms > 0.0


def test_rejects_bad_feeds(library: str, tmp_path: Path) -> None:
    """Wrong dtype, wrong shape, missing or extra inputs raise InferenceError naming the fix."""
    onnx_path = make_classifier(tmp_path / 'model.onnx')
    with make_runner(library, build_engine(library, onnx_path, tmp_path)) as runner:
        good = np.zeros((1, 3, 32, 32), np.float32)
        with pytest.raises(InferenceError, match='float32'):
            runner.infer({'input': good.astype(np.float64)})
        with pytest.raises(InferenceError, match=r'\(1, 3, 32, 32\)'):
            runner.infer({'input': np.zeros((1, 3, 16, 32), np.float32)})
        with pytest.raises(InferenceError, match='dimensions'):
            runner.infer({'input': np.zeros((3, 32, 32), np.float32)})
        with pytest.raises(InferenceError, match=r"missing \['input'\]"):
            runner.infer({})
        with pytest.raises(InferenceError, match=r"unexpected \['extra'\]"):
            runner.infer({'input': good, 'extra': good})
        # A refused feed leaves the runner usable.
        assert runner.infer({'input': good})['logits'].shape == (1, 10)


def test_lifecycle(library: str, tmp_path: Path) -> None:
    """Activate twice is harmless; infer after deactivate fails; reactivation gives same result."""
    onnx_path = make_classifier(tmp_path / 'model.onnx')
    runner = make_runner(library, build_engine(library, onnx_path, tmp_path))
    feed = random_feed([TensorInfo('input', (1, 3, 32, 32), np.dtype(np.float32))])
    assert not runner.is_active
    with pytest.raises(InferenceError, match='activate'):
        runner.infer(feed)
    runner.activate()
    runner.activate()
    assert runner.is_active
    first = runner.infer(feed)['logits']
    runner.deactivate()
    runner.deactivate()
    assert not runner.is_active
    with pytest.raises(InferenceError, match='activate'):
        runner.infer(feed)
    with runner:
        np.testing.assert_array_equal(runner.infer(feed)['logits'], first)
    assert not runner.is_active


def test_repeated_load_does_not_leak(library: str, tmp_path: Path) -> None:
    """200 load/activate/infer/deactivate cycles keep RSS within a generous bound."""
    onnx_path = make_two_output_model(tmp_path / 'model.onnx')
    engine = build_engine(library, onnx_path, tmp_path)
    feed = random_feed([TensorInfo('input', (1, 3, 32, 32), np.dtype(np.float32))])

    def cycle() -> None:
        runner = make_runner(library, engine)
        runner.activate()
        runner.infer(feed)
        runner.deactivate()

    for _ in range(20):
        cycle()
    before = rss_bytes()
    for _ in range(200):
        cycle()
    growth = rss_bytes() - before
    assert growth < MAX_RSS_GROWTH_BYTES, f'RSS grew by {growth / 2**20:.1f} MiB'


@pytest.mark.parametrize('damage', ['missing', 'empty', 'truncated', 'garbage'])
def test_refuses_broken_files(library: str, tmp_path: Path, damage: str) -> None:
    """Missing, empty, truncated and garbage engine files raise EngineError naming the file."""
    if library == 'triton':
        pytest.skip('a Triton model is no file here: the server loads it (test_triton.py '
                    'checks unknown and unloadable models)')
    onnx_path = make_classifier(tmp_path / 'model.onnx', hidden=32)
    engine = build_engine(library, onnx_path, tmp_path)
    broken = tmp_path / f'broken-{damage}{engine.suffix}'
    if damage == 'empty':
        broken.write_bytes(b'')
    elif damage == 'truncated':
        data = engine.read_bytes()
        broken.write_bytes(data[:len(data) // 2])
    elif damage == 'garbage':
        broken.write_bytes(np.random.default_rng(0).bytes(4096))
    runner = make_runner(library, broken)
    with pytest.raises(EngineError) as info:
        runner.activate()
    assert str(broken) in str(info.value)
    assert not runner.is_active
    if damage == 'missing':
        assert 'does not exist' in str(info.value)
    else:
        assert 're-export' in str(info.value) or 're-copy' in str(info.value)
    assert '\n' not in str(info.value)
    with pytest.raises(EngineError, match=broken.name):
        RunnerFromFile(broken, backend=library)()


def test_face_detector(library: str, tmp_path: Path, face_model: Path,
                       caplog: pytest.LogCaptureFixture,
                       capfd: pytest.CaptureFixture[str]) -> None:
    """The shared face detector has one input and two outputs; old-export noise is one line."""
    engine = build_engine(library, face_model, tmp_path)
    capfd.readouterr()
    with caplog.at_level(logging.INFO, logger='accel_ai_ros'):
        runner = RunnerFromFile(engine, backend=library)()
    try:
        assert [(i.name, i.shape, i.dtype) for i in runner.inputs()] == [
            ('input', (1, 3, 240, 320), np.dtype(np.float32))]
        assert [(o.name, o.shape) for o in runner.outputs()] == [
            ('scores', (1, 4420, 2)), ('boxes', (1, 4420, 4))]
        out = runner.infer({'input': np.zeros((1, 3, 240, 320), np.float32)})
        np.testing.assert_allclose(out['scores'].sum(axis=-1), 1.0, atol=1e-4)
    finally:
        runner.deactivate()
    if library == 'onnxruntime':
        summaries = [r for r in caplog.records if 'initializers as graph inputs' in r.message]
        assert len(summaries) == 1
        assert '184 initializers' in summaries[0].getMessage()
        assert summaries[0].name == 'accel_ai_ros'
        captured = capfd.readouterr()
        assert 'appears in graph inputs' not in captured.err + captured.out


# -- registry ----------------------------------------------------------------------------------

def test_registry_reports_every_backend() -> None:
    """available_backends() maps every backend to None or an error text, without raising."""
    report = available_backends()
    assert tuple(report) == BACKENDS
    assert report['onnxruntime'] is None
    for name, error in report.items():
        if error is None:
            assert require_backend(name).__name__ == MODULES[name]
        else:
            assert isinstance(error, str) and error
            with pytest.raises(BackendUnavailableError, match='install'):
                require_backend(name)
    with pytest.raises(ParameterError, match='onnxruntime'):
        require_backend('caffe')


def test_backend_table_drives_choices_loaders_and_options() -> None:
    """Every row of the one backend table reaches the parameters, loaders and runner options."""
    assert BACKEND_CHOICES == ('auto',) + tuple(spec.name for spec in BACKEND_TABLE)
    for spec in BACKEND_TABLE:
        for suffix in spec.suffixes:
            assert backend_for_path(f'model{suffix.upper()}') == spec.name
        module_path = REPO / (spec.runner_module.replace('.', '/') + '.py')
        assert module_path.is_file(), module_path
        assert spec.runner_module == f'accel_ai_ros.backends.{spec.name}.runner'
        source = module_path.read_text(encoding='utf-8')
        assert f'class {spec.runner_class_name}(Runner)' in source
        values = {param.name: param.default for param in PARAMETERS}
        options = runner_options(spec.name, values)
        for keyword, parameter, _ in spec.parameters:
            assert parameter in SPECS, f'{spec.name} reads unknown parameter {parameter}'
            assert f'{keyword}:' in source, f'{spec.runner_class_name} takes no {keyword}'
            assert keyword in options
    assert runner_options('onnxruntime', {'intra_op_threads': '2'}) == {'intra_op_threads': 2}
    with pytest.raises(ParameterError, match='unknown backend'):
        runner_options('caffe', {})


def _run_python(code: str) -> str:
    """Run ``code`` in a fresh interpreter with the repo importable; return stdout."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(REPO)] + [p for p in os.environ.get('PYTHONPATH', '').split(os.pathsep) if p]))
    result = subprocess.run([sys.executable, '-c', code], env=env, capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_imports_are_lazy_and_survive_missing_libraries() -> None:
    """Importing the package imports no backend library, and blocked libraries are reported."""
    out = _run_python(
        'import sys\n'
        "for blocked in ('onnxruntime', 'tensorrt', 'torch', 'tritonclient'):\n"
        '    sys.modules[blocked] = None\n'
        'import accel_ai_ros\n'
        'import accel_ai_ros.backends.registry as registry\n'
        'import accel_ai_ros.engines.loaders\n'
        'import accel_ai_ros.backends.onnxruntime.runner\n'
        'from accel_ai_ros.errors import BackendUnavailableError\n'
        'report = registry.available_backends()\n'
        'assert all(report[name] for name in registry.BACKENDS), report\n'
        'try:\n'
        "    registry.require_backend('onnxruntime')\n"
        'except BackendUnavailableError as error:\n'
        '    print(error)\n')
    assert 'onnxruntime backend is unavailable' in out
    assert 'pip install onnxruntime' in out
    loaded = _run_python(
        'import sys\n'
        'import accel_ai_ros.backends.registry, accel_ai_ros.engines.loaders\n'
        'import accel_ai_ros.backends.onnxruntime.runner\n'
        "print([m for m in ('onnxruntime', 'tensorrt', 'torch', 'tritonclient')\n"
        '        if m in sys.modules])\n')
    assert loaded == '[]'


# -- ONNX Runtime specifics ----------------------------------------------------------------

def test_legacy_export_hides_initializer_inputs(tmp_path: Path,
                                                caplog: pytest.LogCaptureFixture) -> None:
    """Initializers listed as graph inputs are not inputs() and are summarised once."""
    path = make_legacy_model(tmp_path / 'legacy.onnx')
    assert len(onnx.load(str(path)).graph.input) == 5
    with caplog.at_level(logging.INFO, logger='accel_ai_ros'):
        runner = OnnxRuntimeRunner(path)
        with runner:
            assert [i.name for i in runner.inputs()] == ['input']
            assert runner.initializers_as_inputs == 4
    lines = [r.getMessage() for r in caplog.records if 'graph inputs' in r.getMessage()]
    assert lines == [lines[0]] and '4 initializers' in lines[0]


@pytest.mark.parametrize('elem_type, dtype', [
    (TensorProto.FLOAT16, np.float16), (TensorProto.UINT8, np.uint8),
    (TensorProto.INT8, np.int8), (TensorProto.INT64, np.int64),
    (TensorProto.DOUBLE, np.float64), (TensorProto.BOOL, np.bool_),
])
def test_onnxruntime_dtypes(tmp_path: Path, elem_type: int, dtype: type) -> None:
    """ONNX element types map to numpy dtypes and round-trip through an Identity model."""
    path = make_identity_model(tmp_path / 'identity.onnx', elem_type, ('n', 4))
    with OnnxRuntimeRunner(path) as runner:
        (info,) = runner.inputs()
        assert info.dtype == np.dtype(dtype)
        assert info.shape == ('n', 4) and not info.is_static
        data: np.ndarray = (np.arange(12) % 3).reshape(3, 4).astype(dtype)
        np.testing.assert_array_equal(runner.infer({'input': data})['output'], data)


def test_unavailable_provider_is_refused(tmp_path: Path) -> None:
    """A provider this ONNX Runtime lacks raises BackendUnavailableError naming what exists."""
    ort = require_backend('onnxruntime')
    candidates = ['CUDAExecutionProvider', 'OpenVINOExecutionProvider', 'DmlExecutionProvider']
    missing = [p for p in candidates if p not in ort.get_available_providers()]
    if not missing:
        pytest.skip('every candidate provider is available here')
    runner = OnnxRuntimeRunner(make_classifier(tmp_path / 'm.onnx'), providers=[missing[0]])
    with pytest.raises(BackendUnavailableError) as info:
        runner.activate()
    assert 'CPUExecutionProvider' in str(info.value)
    assert not runner.is_active
    with pytest.raises(ParameterError):
        OnnxRuntimeRunner(tmp_path / 'm.onnx', providers=[])
    with pytest.raises(ParameterError):
        OnnxRuntimeRunner(tmp_path / 'm.onnx', intra_op_threads=-1)


def _bad_reshape_model(path: Path) -> Path:
    """Write a model whose Reshape fails at run time on a 'shape' input of zeros.

    Zeros copy input dimensions, and the rank-2 input has no third dimension to copy.
    """
    graph = helper.make_graph(
        [helper.make_node('Reshape', ['input', 'shape'], ['output'])], 'reshape',
        [helper.make_tensor_value_info('input', TensorProto.FLOAT, [2, 3]),
         helper.make_tensor_value_info('shape', TensorProto.INT64, [3])],
        [helper.make_tensor_value_info('output', TensorProto.FLOAT, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 13)])
    onnx.save(with_min_ir_version(model), str(path))
    return path


def test_runtime_failure_is_inference_error(tmp_path: Path) -> None:
    """An ONNX Runtime failure during run becomes InferenceError; the loader re-raises it."""
    path = _bad_reshape_model(tmp_path / 'reshape.onnx')
    with OnnxRuntimeRunner(path) as runner:
        ok = runner.infer({'input': np.ones((2, 3), np.float32),
                           'shape': np.array([3, 2, 1], np.int64)})
        assert ok['output'].shape == (3, 2, 1)
        with pytest.raises(InferenceError, match='ONNX Runtime failed') as info:
            runner.infer({'input': np.ones((2, 3), np.float32),
                          'shape': np.array([4, 5, 6], np.int64)})
        assert '\n' not in str(info.value)
    with pytest.raises(InferenceError, match='reshape.onnx'):
        RunnerFromFile(path)()  # the warm-up feeds zeros, which the Reshape refuses


# -- loaders ---------------------------------------------------------------------------------

@pytest.mark.parametrize('name, expected', [
    ('m.onnx', 'onnxruntime'), ('M.ONNX', 'onnxruntime'), ('m.engine', 'tensorrt'),
    ('m.plan', 'tensorrt'), ('m.trt', 'tensorrt'), ('m.pt2', 'torch'), ('m.ts', 'torch'),
    ('dir/m.fp16.pt', 'torch'),
])
def test_backend_for_path(name: str, expected: str) -> None:
    """The file suffix picks the backend."""
    assert backend_for_path(name) == expected


def test_backend_for_unknown_suffix() -> None:
    """An unknown suffix raises EngineError listing the accepted suffixes."""
    with pytest.raises(EngineError, match=r'\.onnx.*\.engine.*\.pt2') as info:
        backend_for_path('/models/net.bin')
    assert '/models/net.bin' in str(info.value)
    with pytest.raises(EngineError, match='accepted suffixes'):
        RunnerFromFile('/models/net')()


def test_runner_from_file_returns_active_warm_runner(tmp_path: Path) -> None:
    """Return an active runner, warmed up when static; dynamic models skip the warm-up."""
    static = RunnerFromFile(make_classifier(tmp_path / 's.onnx'), intra_op_threads=1)()
    try:
        assert isinstance(static, OnnxRuntimeRunner) and static.is_active
        assert static.intra_op_threads == 1
        assert static.last_inference_ms > 0.0  # the warm-up ran
    finally:
        static.deactivate()
    dynamic = RunnerFromFile(make_dynamic_model(tmp_path / 'd.onnx'))()
    try:
        assert dynamic.is_active and dynamic.last_inference_ms == 0.0
        for shape in [(1, 3, 16, 16), (2, 3, 24, 40)]:
            out = dynamic.infer({'input': np.ones(shape, np.float32)})
            assert out['logits'].shape == (shape[0], 10)
    finally:
        dynamic.deactivate()


def test_runner_from_file_unavailable_backends(tmp_path: Path) -> None:
    """A backend whose library or runner module is missing raises BackendUnavailableError."""
    engine = tmp_path / 'm.engine'
    engine.write_bytes(b'not really an engine')
    report = available_backends()
    if report['tensorrt'] is None:
        pytest.skip('TensorRT is installed here')
    with pytest.raises(BackendUnavailableError, match='tensorrt'):
        RunnerFromFile(engine)()
    with pytest.raises(ParameterError, match='auto'):
        RunnerFromFile(engine, backend='caffe')
