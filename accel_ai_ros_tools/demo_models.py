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

"""Build the demo's digit classifier offline, in FP32, FP16 and INT8 ONNX files.

No model hub is needed: the classifier is a small MLP trained on scikit-learn's digits data
set (1797 grey 8x8 images, values 0..16, ink bright on a dark background), which ships inside
the scikit-learn wheel. The graph is written with ``onnx.helper``::

    image float32 [1, 1, 8, 8] (NCHW, values 0..16)
      -> Flatten -> Gemm -> Relu -> Gemm -> Softmax -> probabilities float32 [1, 10]

``manifest.json`` records the preprocessing the model expects (mono, centre crop to a
square, resize to 8x8, pixel * 16/255) and the accuracy of each precision variant, measured
with ONNX Runtime on the held-out split of :mod:`accel_ai_ros_tools.digits`.
"""

import argparse
import json
import os
from pathlib import Path
import sys
from typing import Any
from typing import Dict
from typing import List
from typing import Optional
from typing import Sequence
from typing import Tuple
import warnings

import numpy as np

from accel_ai_ros.errors import AccelAiError
from accel_ai_ros.errors import BackendUnavailableError
from accel_ai_ros.errors import collapse_whitespace
from accel_ai_ros.fileio import atomic_write
from accel_ai_ros.params import PRECISIONS
from accel_ai_ros_tools.digits import IMAGE_SIZE
from accel_ai_ros_tools.digits import NUM_CLASSES
from accel_ai_ros_tools.digits import split
from accel_ai_ros_tools.digits import TEST_FRACTION

INPUT_NAME = 'image'
OUTPUT_NAME = 'probabilities'
OPSET = 17
HIDDEN_UNITS = 96
CALIBRATION_IMAGES = 256
LABELS_FILE = 'labels.txt'
MANIFEST_FILE = 'manifest.json'
DEFAULT_OUTPUT_DIR = os.path.join('models', 'demo')
_INSTALL_HINT = 'install it with: pip install scikit-learn onnxconverter-common onnxruntime'


def model_file(variant: str) -> str:
    """Return the file name of one precision variant ('fp32', 'fp16' or 'int8')."""
    return f'digits_{variant}.onnx'


def output_files() -> List[str]:
    """Return every file name :func:`build_demo_models` writes, the manifest last."""
    return [model_file(v) for v in PRECISIONS] + [LABELS_FILE, MANIFEST_FILE]


def _train(x_train: np.ndarray, y_train: np.ndarray, seed: int) -> Any:
    """Fit the MLP classifier on flattened 0..16 images."""
    try:
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.neural_network import MLPClassifier
        from threadpoolctl import threadpool_limits
    except ImportError as exc:
        raise BackendUnavailableError(f'scikit-learn is not importable ({exc}); '
                                      f'{_INSTALL_HINT}') from exc
    mlp = MLPClassifier(hidden_layer_sizes=(HIDDEN_UNITS,), activation='relu', solver='adam',
                        alpha=1e-3, max_iter=300, random_state=seed)
    # One BLAS thread: these matrices are tiny, and OpenBLAS threads spinning on a busy
    # 2-core machine make the fit many times slower.
    with warnings.catch_warnings(), threadpool_limits(limits=1, user_api='blas'):
        warnings.simplefilter('ignore', ConvergenceWarning)
        mlp.fit(x_train.reshape(len(x_train), -1), y_train)
    return mlp


def _fp32_graph(mlp: Any) -> Any:
    """Write the trained MLP as an ONNX graph with ``onnx.helper``."""
    import onnx
    from onnx import helper
    from onnx import numpy_helper
    from onnx import TensorProto

    from accel_ai_ros_tools.variants.onnx_fixes import with_min_ir_version
    w1, w2 = (np.ascontiguousarray(w.T, dtype=np.float32) for w in mlp.coefs_)
    b1, b2 = (np.asarray(b, dtype=np.float32) for b in mlp.intercepts_)
    inits = [numpy_helper.from_array(a, name) for a, name in
             ((w1, 'fc1.weight'), (b1, 'fc1.bias'), (w2, 'fc2.weight'), (b2, 'fc2.bias'))]
    nodes = [
        helper.make_node('Flatten', [INPUT_NAME], ['flat'], name='flatten', axis=1),
        helper.make_node('Gemm', ['flat', 'fc1.weight', 'fc1.bias'], ['fc1'], name='fc1',
                         transB=1),
        helper.make_node('Relu', ['fc1'], ['relu1'], name='relu1'),
        helper.make_node('Gemm', ['relu1', 'fc2.weight', 'fc2.bias'], ['logits'], name='fc2',
                         transB=1),
        helper.make_node('Softmax', ['logits'], [OUTPUT_NAME], name='softmax', axis=1),
    ]
    graph = helper.make_graph(
        nodes, 'digits_mlp',
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT,
                                       [1, 1, IMAGE_SIZE, IMAGE_SIZE])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, [1, NUM_CLASSES])],
        inits)
    model = with_min_ir_version(helper.make_model(
        graph, opset_imports=[helper.make_opsetid('', OPSET)],
        producer_name='accel_ai_ros.make_demo_models'))
    model.doc_string = ('Digit classifier (scikit-learn digits). Input: mono 8x8, '
                        'values 0..16 (pixel * 16/255), ink bright on dark.')
    onnx.checker.check_model(model)
    return model


def _fp16(model: Any) -> Any:
    """Convert weights and compute to float16, keeping float32 inputs and outputs."""
    try:
        from onnxconverter_common import float16
    except ImportError as exc:
        raise BackendUnavailableError(f'onnxconverter-common is not importable ({exc}); '
                                      f'{_INSTALL_HINT}') from exc
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        return float16.convert_float_to_float16(model, keep_io_types=True)


def _quantize_int8(fp32: Any, calibration: np.ndarray) -> Tuple[Any, Dict[str, Any]]:
    """
    Quantize through the variants library as ``make_variants --int8-target cpu`` does.

    The demo runs on ONNX Runtime's CPU provider, so its INT8 model is the ``cpu`` target
    (uint8 activations, int8 weights, 7-bit weights on CPUs without VNNI). The calibration
    digits go in as 8-bit mono images and are preprocessed as the node preprocesses frames.
    """
    from accel_ai_ros.image_codec import DecodedImage
    from accel_ai_ros_tools.variants.calibration import CalibrationReader
    from accel_ai_ros_tools.variants.int8 import quantize_int8
    pixels = np.clip(np.rint(calibration * (255.0 / 16.0)), 0, 255).astype(np.uint8)
    frames = (DecodedImage(np.ascontiguousarray(image), 'mono') for image in pixels)
    reader = CalibrationReader(frames, _spec(), INPUT_NAME, count=len(pixels))
    return quantize_int8(fp32, _spec(), reader, method='minmax', target='cpu',
                         target_opset=OPSET)


def _spec() -> Any:
    """Return the node's preprocessing for the demo model (as manifest.json describes it)."""
    from accel_ai_ros.preprocess import PreprocessSpec
    pre = _preprocessing()
    return PreprocessSpec(IMAGE_SIZE, IMAGE_SIZE, resize_mode=pre['resize'],
                          channel_order='mono', scale=pre['scale'], mean=tuple(pre['mean']),
                          std=tuple(pre['std']))


def predict(model_path: Path, images: np.ndarray) -> np.ndarray:
    """Run one ONNX file over float32 (N, 8, 8) images in 0..16; return (N, 10) scores."""
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.log_severity_level = 3
    session = ort.InferenceSession(str(model_path), options,
                                   providers=['CPUExecutionProvider'])
    batch = np.asarray(images, dtype=np.float32).reshape(-1, 1, 1, IMAGE_SIZE, IMAGE_SIZE)
    return np.concatenate([session.run([OUTPUT_NAME], {INPUT_NAME: x})[0] for x in batch])


def _write_bytes(directory: Path, name: str, data: bytes) -> None:
    """Write ``data`` to ``directory/name`` via a temp file and ``os.replace``."""
    atomic_write(directory / name, data)


def _preprocessing() -> Dict[str, Any]:
    """Describe the preprocessing the model was trained with."""
    return {
        'channel_order': 'mono', 'layout': 'NCHW', 'dtype': 'float32',
        'input_name': INPUT_NAME, 'output_name': OUTPUT_NAME,
        'input_width': IMAGE_SIZE, 'input_height': IMAGE_SIZE,
        'resize': 'center_crop', 'interpolation': 'area',
        'scale': 16.0 / 255.0, 'mean': [0.0], 'std': [1.0],
        'note': 'value = (pixel * scale - mean) / std maps 0..255 to the 0..16 training '
                'range; ink is bright on a dark background',
    }


def _up_to_date(output_dir: Path) -> bool:
    """Return whether every file exists and the manifest records the INT8 target."""
    if not all((output_dir / n).is_file() for n in output_files()):
        return False
    try:
        with open(output_dir / MANIFEST_FILE, encoding='utf-8') as f:
            manifest = json.load(f)
    except (OSError, ValueError):
        return False
    return isinstance(manifest, dict) and 'target' in (manifest.get('int8') or {})


def build_demo_models(output_dir: Path, seed: int = 0, force: bool = False) -> Dict[str, Any]:
    """Train, export, quantize and score the demo models; return the manifest.

    When every output file already exists and ``force`` is false nothing is rewritten and
    the existing manifest is returned, unless its INT8 model predates INT8 targets. Each
    file appears atomically; the manifest is written last, so an interrupted run is redone
    by the next one.
    """
    output_dir = Path(output_dir)
    if not force and _up_to_date(output_dir):
        with open(output_dir / MANIFEST_FILE, encoding='utf-8') as f:
            return dict(json.load(f))
    output_dir.mkdir(parents=True, exist_ok=True)
    x_train, x_test, y_train, y_test = split(seed)
    mlp = _train(x_train, y_train, seed)
    fp32 = _fp32_graph(mlp)
    _write_bytes(output_dir, model_file('fp32'), fp32.SerializeToString())
    _write_bytes(output_dir, model_file('fp16'), _fp16(fp32).SerializeToString())
    rng = np.random.default_rng(seed)
    calibration = x_train[rng.permutation(len(x_train))[:CALIBRATION_IMAGES]]
    int8, int8_options = _quantize_int8(fp32, calibration)
    _write_bytes(output_dir, model_file('int8'), int8.SerializeToString())
    _write_bytes(output_dir, LABELS_FILE,
                 ''.join(f'{i}\n' for i in range(NUM_CLASSES)).encode('utf-8'))
    reference = predict(output_dir / model_file('fp32'), x_test).argmax(axis=1)
    variants: Dict[str, Any] = {}
    for variant in PRECISIONS:
        top1 = predict(output_dir / model_file(variant), x_test).argmax(axis=1)
        variants[variant] = {
            'file': model_file(variant),
            'held_out_accuracy': round(float(np.mean(top1 == y_test)), 4),
            'top1_agreement_with_fp32': round(float(np.mean(top1 == reference)), 4),
        }
    manifest = {
        'name': 'digits_mlp', 'task': 'classification', 'labels': LABELS_FILE,
        'dataset': 'scikit-learn digits (load_digits)',
        'architecture': f'Flatten-Gemm({HIDDEN_UNITS})-Relu-Gemm({NUM_CLASSES})-Softmax',
        'opset': OPSET,
        'split': {'seed': seed, 'test_fraction': TEST_FRACTION, 'stratified': True,
                  'train_size': int(len(y_train)), 'held_out_size': int(len(y_test))},
        'preprocessing': _preprocessing(), 'variants': variants,
        'int8': int8_options,
    }
    _write_bytes(output_dir, MANIFEST_FILE,
                 (json.dumps(manifest, indent=2) + '\n').encode('utf-8'))
    return manifest


def _parse(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        prog='make_demo_models',
        description='Train the demo digit classifier offline and write FP32/FP16/INT8 ONNX '
                    'files, labels.txt and manifest.json.')
    parser.add_argument('--output-dir', default=DEFAULT_OUTPUT_DIR,
                        help='where to write the files (default: %(default)s)')
    parser.add_argument('--seed', type=int, default=0,
                        help='seed of the train/held-out split and the training')
    parser.add_argument('--force', action='store_true',
                        help='rebuild even when every file already exists')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the ``make_demo_models`` command; return its exit status."""
    args = _parse(argv)
    output_dir = Path(args.output_dir)
    try:
        existed = _up_to_date(output_dir)
        manifest = build_demo_models(output_dir, seed=args.seed, force=args.force)
    except (AccelAiError, OSError, ValueError) as exc:
        message = collapse_whitespace(exc)
        print(f'make_demo_models: error: cannot build the demo models in {output_dir}: '
              f'{message}', file=sys.stderr)
        return 1
    if existed and not args.force:
        print(f'make_demo_models: {output_dir} is up to date (use --force to rebuild)')
        return 0
    scores = ', '.join(f"{v} {manifest['variants'][v]['held_out_accuracy']:.4f}"
                       for v in PRECISIONS)
    print(f'make_demo_models: wrote {output_dir} (held-out accuracy: {scores})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
