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

"""Train the demo digit classifier with PyTorch in two architectures, plus pruned variants.

The data and split are :mod:`accel_ai_ros_tools.demo_models`' (scikit-learn digits, the
same held-out images), so every model here can be compared with the demo's MLP. Written to
``--output-dir``, each as ONNX (input ``image`` float32 [1, 1, 8, 8] in 0..16, output
``probabilities`` [1, 10] after Softmax, opset 17), with a ``variants.json`` manifest:

- ``cnn``: a plain CNN, Conv 16-32-64 (3x3, max pools after the 2nd and 3rd) and Linear.
- ``dwsep``: the same widths as depthwise-separable (MobileNet-style) blocks: about a sixth
  of the multiply-accumulates and parameters.
- ``cnn_2of4``: ``cnn`` with 2:4 sparsity along input channels (conv2, conv3, fc; conv1 has
  one input channel), masks kept during fine-tuning (``torch.nn.utils.prune``).
- ``cnn_mag50``, ``cnn_mag80``: per-layer L1 unstructured pruning, fine-tuned.
- ``cnn_channel50``: half of each conv's output channels (lowest L1, chosen by
  ``prune.ln_structured``) removed for real, so the network is smaller, then fine-tuned.

Accuracy is measured with ONNX Runtime on the exported files. PyTorch is imported only when
training starts; the legacy TorchScript exporter (``dynamo=False``) is used because the
torch.export-based one cannot write opset 17 for these graphs.
"""

import argparse
import copy
import io
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
from accel_ai_ros.fileio import sha256_file
from accel_ai_ros_tools import demo_models
from accel_ai_ros_tools import digits
from accel_ai_ros_tools.variants import pruning

ARCHITECTURES = ('cnn', 'dwsep')
WIDTHS = (16, 32, 64)
VARIANTS_FILE = 'variants.json'
#: Positions per channel the Linear layer reads: 8x8 pooled twice is 2x2.
_HEAD_POSITIONS = 4
DEFAULT_OUTPUT_DIR = os.path.join('models', 'demo_train')
_INSTALL_HINT = ('install it with: pip install torch (CPU wheels: --index-url '
                 'https://download.pytorch.org/whl/cpu)')


def _torch() -> Any:
    """Import PyTorch, or raise BackendUnavailableError with the install hint."""
    try:
        import torch
    except ImportError as exc:
        raise BackendUnavailableError(f'PyTorch is not importable ({exc}); {_INSTALL_HINT}') \
            from exc
    return torch


def build_model(architecture: str, widths: Sequence[int] = WIDTHS) -> Any:
    """Return an untrained ``torch.nn.Sequential`` of ``architecture`` ('cnn' or 'dwsep').

    Inputs are 0..16 digits divided by 16 (the division is folded into conv1 on export).
    """
    torch = _torch()
    nn = torch.nn
    a, b, c = (int(w) for w in widths)
    if architecture == 'cnn':
        body: List[Tuple[str, Any]] = [
            ('conv1', nn.Conv2d(1, a, 3, padding=1)), ('relu1', nn.ReLU()),
            ('conv2', nn.Conv2d(a, b, 3, padding=1)), ('relu2', nn.ReLU()),
            ('pool', nn.MaxPool2d(2)),
            ('conv3', nn.Conv2d(b, c, 3, padding=1)), ('relu3', nn.ReLU())]
    elif architecture == 'dwsep':
        body = [
            ('conv1', nn.Conv2d(1, a, 3, padding=1)), ('relu1', nn.ReLU()),
            ('dw2', nn.Conv2d(a, a, 3, padding=1, groups=a)), ('pw2', nn.Conv2d(a, b, 1)),
            ('relu2', nn.ReLU()), ('pool', nn.MaxPool2d(2)),
            ('dw3', nn.Conv2d(b, b, 3, padding=1, groups=b)), ('pw3', nn.Conv2d(b, c, 1)),
            ('relu3', nn.ReLU())]
    else:
        raise AccelAiError(f'unknown architecture {architecture!r}; choose one of '
                           f'{", ".join(ARCHITECTURES)}')
    from collections import OrderedDict
    # No global pool: it would throw away where the strokes are (it costs 4 points here).
    return nn.Sequential(OrderedDict(body + [
        ('pool2', nn.MaxPool2d(2)), ('flatten', nn.Flatten()),
        ('fc', nn.Linear(c * _HEAD_POSITIONS, digits.NUM_CLASSES))]))


def count_macs(model: Any) -> int:
    """Return the dense multiply-accumulates of one 8x8 image (zero weights counted)."""
    torch = _torch()
    total = [0]

    def hook(module: Any, _inputs: Any, output: Any) -> None:
        if isinstance(module, torch.nn.Conv2d):
            per_output = module.weight[0].numel()
            total[0] += int(output[0].numel()) * int(per_output)
        elif isinstance(module, torch.nn.Linear):
            total[0] += int(module.weight.numel())

    handles = [m.register_forward_hook(hook) for m in model.modules()
               if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    try:
        with torch.no_grad():
            model(torch.zeros(1, 1, digits.IMAGE_SIZE, digits.IMAGE_SIZE))
    finally:
        for handle in handles:
            handle.remove()
    return total[0]


def train(model: Any, x: np.ndarray, y: np.ndarray, epochs: int, seed: int,
          lr: float = 3e-3) -> Any:
    """Train ``model`` in place on 0..16 images (divided by 16); return it in eval mode.

    Adam with a cosine learning-rate decay to zero, batches of 64, shuffled by ``seed``.
    """
    torch = _torch()
    generator = torch.Generator().manual_seed(seed)
    images = torch.from_numpy(np.asarray(x, np.float32) / 16.0).unsqueeze(1)
    labels = torch.from_numpy(np.asarray(y, np.int64))
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    steps = epochs * ((len(labels) + 63) // 64)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(steps, 1))
    loss_fn = torch.nn.CrossEntropyLoss()
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(labels), generator=generator)
        for start in range(0, len(order), 64):
            batch = order[start:start + 64]
            optimizer.zero_grad()
            loss_fn(model(images[batch]), labels[batch]).backward()
            optimizer.step()
            schedule.step()
    return model.eval()


def accuracy(model: Any, x: np.ndarray, y: np.ndarray) -> float:
    """Return the top-1 accuracy of ``model`` (PyTorch, eval mode) on 0..16 images."""
    torch = _torch()
    model.eval()
    with torch.no_grad():
        logits = model(torch.from_numpy(np.asarray(x, np.float32) / 16.0).unsqueeze(1))
    return round(float(np.mean(logits.argmax(1).numpy() == np.asarray(y))), 4)


def _convs_and_fc(model: Any) -> List[Tuple[str, Any]]:
    torch = _torch()
    return [(n, m) for n, m in model.named_children()
            if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]


def mask_2_4(weight: Any) -> Any:
    """Return a 0/1 mask keeping the 2 largest of every 4 consecutive input-channel weights."""
    torch = _torch()
    moved = weight.detach().movedim(1, -1)
    groups = moved.reshape(-1, 4).abs()
    keep = torch.zeros_like(groups)
    keep.scatter_(1, groups.topk(2, dim=1).indices, 1.0)
    return keep.reshape(moved.shape).movedim(-1, 1).contiguous()


def prune_2_4(model: Any) -> List[str]:
    """Attach 2:4 masks (``prune.custom_from_mask``) where input channels divide by 4."""
    from torch.nn.utils import prune
    pruned = []
    for name, module in _convs_and_fc(model):
        if module.weight.shape[1] % 4 == 0:
            prune.custom_from_mask(module, 'weight', mask_2_4(module.weight))
            pruned.append(name)
    return pruned


def prune_magnitude(model: Any, amount: float) -> List[str]:
    """Attach per-layer L1 unstructured masks (``prune.l1_unstructured``) to every layer."""
    from torch.nn.utils import prune
    names = []
    for name, module in _convs_and_fc(model):
        prune.l1_unstructured(module, 'weight', amount=amount)
        names.append(name)
    return names


def make_permanent(model: Any) -> Any:
    """Fold the pruning masks into the weights (``prune.remove``); return the model."""
    from torch.nn.utils import prune
    for _, module in _convs_and_fc(model):
        if prune.is_pruned(module):
            prune.remove(module, 'weight')
    return model


def shrink_channels(model: Any, fraction: float) -> Any:
    """Return a smaller plain CNN without ``fraction`` of each conv's output channels.

    ``prune.ln_structured(n=1, dim=0)`` on a copy picks the lowest-L1 channels; the kept
    ones (and the matching input channels of the next layer) are copied into a new model.
    """
    torch = _torch()
    from torch.nn.utils import prune
    convs = ['conv1', 'conv2', 'conv3']
    probe = copy.deepcopy(model)
    keep = []
    for name in convs:
        module = getattr(probe, name)
        prune.ln_structured(module, 'weight', amount=fraction, n=1, dim=0)
        keep.append(torch.nonzero(module.weight_mask.flatten(1).sum(1)).flatten())
    small = build_model('cnn', [len(k) for k in keep])
    with torch.no_grad():
        previous = None
        for name, kept in zip(convs + ['fc'], keep + [None]):
            source, target = getattr(model, name), getattr(small, name)
            weight, bias = source.weight, source.bias
            if kept is not None:
                weight, bias = weight[kept], bias[kept]
            if previous is not None and name == 'fc':
                weight = weight.reshape(len(weight), -1, _HEAD_POSITIONS)[:, previous]
                weight = weight.flatten(1)
            elif previous is not None:
                weight = weight[:, previous]
            target.weight.copy_(weight)
            target.bias.copy_(bias)
            previous = kept
    return small.eval()


def export_onnx(model: Any, out_path: Path) -> Any:
    """Export ``model`` (inputs 0..16) with Softmax to ``out_path`` atomically; return it."""
    torch = _torch()
    import onnx
    exported = make_permanent(copy.deepcopy(model)).eval()
    with torch.no_grad():
        exported.conv1.weight.div_(16.0)  # the model was trained on pixels / 16
    wrapper = torch.nn.Sequential(exported, torch.nn.Softmax(dim=1)).eval()
    buffer = io.BytesIO()
    dummy = torch.zeros(1, 1, digits.IMAGE_SIZE, digits.IMAGE_SIZE)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # the legacy exporter's deprecation notices
        torch.onnx.export(wrapper, (dummy,), buffer, input_names=[demo_models.INPUT_NAME],
                          output_names=[demo_models.OUTPUT_NAME],
                          opset_version=demo_models.OPSET, dynamo=False)
    proto = onnx.load_from_string(buffer.getvalue())
    proto.doc_string = ('Digit classifier (scikit-learn digits), trained by '
                        'accel_ai_ros_tools.demo_train. Input: mono 8x8, values 0..16.')
    pruning.write_model_atomically(proto, Path(out_path))
    return proto


def _sha256(path: Path) -> str:
    return sha256_file(path)


def build_variants(output_dir: Path, seed: int = 0, epochs: int = 20,
                   fine_tune_epochs: int = 8) -> Dict[str, Any]:
    """Train, prune, fine-tune, export and score every variant; write and return variants.json.

    Deterministic for a given seed (one PyTorch thread while training).
    """
    torch = _torch()
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    x_train, x_test, y_train, y_test = digits.split(seed)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        models: Dict[str, Tuple[Any, Dict[str, Any]]] = {}
        for arch in ARCHITECTURES:
            torch.manual_seed(seed)
            models[arch] = (train(build_model(arch), x_train, y_train, epochs, seed),
                            {'architecture': arch, 'pruning': None})
        base = models['cnn'][0]
        recipes = [('cnn_2of4', '2:4', None), ('cnn_mag50', 'magnitude', 0.5),
                   ('cnn_mag80', 'magnitude', 0.8), ('cnn_channel50', 'channel', 0.5)]
        for name, method, amount in recipes:
            torch.manual_seed(seed)
            model = copy.deepcopy(base)
            if method == '2:4':
                layers = prune_2_4(model)
            elif method == 'magnitude':
                layers = prune_magnitude(model, float(amount or 0))
            else:
                model = shrink_channels(model, float(amount or 0))
                layers = ['conv1', 'conv2', 'conv3']
            before = accuracy(model, x_test, y_test)
            train(model, x_train, y_train, fine_tune_epochs, seed + 1, lr=1e-3)
            models[name] = (make_permanent(model),
                            {'architecture': 'cnn', 'pruning': method, 'amount': amount,
                             'pruned_layers': layers, 'fine_tune_epochs': fine_tune_epochs,
                             'held_out_accuracy_before_fine_tune': before})
    finally:
        torch.set_num_threads(threads)
    entries = []
    for name, (model, options) in models.items():
        path = output_dir / f'digits_{name}.onnx'
        proto = export_onnx(model, path)
        scores = demo_models.predict(path, x_test)
        report = pruning.sparsity_report(proto)
        options = dict(options, params=report['total_params'],
                       weight_sparsity=report['sparsity'], macs=count_macs(model),
                       held_out_accuracy=round(float(np.mean(scores.argmax(1) == y_test)), 4),
                       check_2_4=all(pruning.check_2_4(proto).values()))
        notes = (f"{options['architecture']}, pruning {options['pruning'] or 'none'}; "
                 f"{options['params']} parameters, {options['weight_sparsity']:.1%} of "
                 f"Conv/Gemm weights zero, {options['macs']} dense MACs; held-out accuracy "
                 f"{options['held_out_accuracy']:.4f} (ONNX Runtime, CPU)")
        entries.append({'name': name, 'precision': 'fp32', 'path': path.name,
                        'sha256': _sha256(path), 'size_bytes': path.stat().st_size,
                        'notes': notes, 'options': options})
    manifest = {
        'format': 1,
        'source': {'dataset': 'scikit-learn digits (load_digits)', 'trainer': __name__,
                   'torch': str(torch.__version__), 'seed': seed, 'epochs': epochs,
                   'split': {'seed': seed, 'test_fraction': digits.TEST_FRACTION,
                             'stratified': True, 'train_size': int(len(y_train)),
                             'held_out_size': int(len(y_test))}},
        'preprocessing': demo_models._preprocessing(), 'task': 'classification',
        'variants': entries,
    }
    pruning.write_bytes_atomically((json.dumps(manifest, indent=2) + '\n').encode('utf-8'),
                                   output_dir / VARIANTS_FILE)
    return manifest


def _parse(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog='train_demo_models',
        description='Train the demo digit classifier with PyTorch (plain and depthwise-'
                    'separable CNN) plus pruned, fine-tuned variants; write ONNX files and '
                    'variants.json.')
    parser.add_argument('--output-dir', default=DEFAULT_OUTPUT_DIR,
                        help='where to write the files (default: %(default)s)')
    parser.add_argument('--seed', type=int, default=0, help='split and training seed')
    parser.add_argument('--epochs', type=int, default=20, help='training epochs')
    parser.add_argument('--fine-tune-epochs', type=int, default=8,
                        help='epochs of fine-tuning after pruning')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the ``train_demo_models`` command; return its exit status."""
    args = _parse(argv)
    try:
        manifest = build_variants(Path(args.output_dir), args.seed, args.epochs,
                                  args.fine_tune_epochs)
    except (AccelAiError, OSError, ValueError) as exc:
        print(f'train_demo_models: error: {" ".join(str(exc).split())}', file=sys.stderr)
        return 1
    print(f'{"variant":<14} {"params":>7} {"zeros":>6} {"MACs":>7} {"bytes":>7} '
          f'{"accuracy":>8} {"pruned, not fine-tuned":>22}')
    for entry in manifest['variants']:
        o = entry['options']
        before = o.get('held_out_accuracy_before_fine_tune')
        print(f"{entry['name']:<14} {o['params']:>7} {o['weight_sparsity']:>6.1%} "
              f"{o['macs']:>7} {entry['size_bytes']:>7} {o['held_out_accuracy']:>8.4f} "
              f"{'-' if before is None else format(before, '.4f'):>22}")
    print(f'train_demo_models: wrote {Path(args.output_dir) / VARIANTS_FILE}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
