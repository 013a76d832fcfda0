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

"""
``benchmark gpu-preprocess``: fused GPU preprocessing against the CPU path.

Prints p50/p99 milliseconds over ``--iterations`` runs after warm-up, with the device name:
the CPU reference (:class:`~accel_ai_ros.preprocess.CpuPreprocessor`), and on the GPU the
host copy into pinned memory, the upload alone, the fused kernel alone (CUDA events) and the
whole call up to a synchronised stream. ``--torch`` adds the PyTorch backend on a network of
YOLOv8n's shape (C2f blocks, SPPF, decoupled head, about 3.2M parameters, random weights, no
download) in FP16: forward pass eager against CUDA-graph replay, and the whole chain from a
numpy frame to results on the host through :meth:`TorchRunner.run_image`.
"""

import argparse
from pathlib import Path
import tempfile
import time
from typing import Any
from typing import Callable
from typing import List

import numpy as np

from accel_ai_ros.image_codec import DecodedImage
from accel_ai_ros.preprocess import CpuPreprocessor
from accel_ai_ros.preprocess import PreprocessSpec


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add this subcommand's options."""
    parser.add_argument('--width', type=int, default=1920, help='frame width (1920)')
    parser.add_argument('--height', type=int, default=1080, help='frame height (1080)')
    parser.add_argument('--size', type=int, default=640, help='model input side (640)')
    parser.add_argument('--iterations', type=int, default=500, help='timed runs (500)')
    parser.add_argument('--warmup', type=int, default=50, help='untimed runs first (50)')
    parser.add_argument('--device', type=int, default=0, help='CUDA device index (0)')
    parser.add_argument('--torch', action='store_true',
                        help='also time the torch backend on a YOLOv8n-shaped network')
    parser.add_argument('--save-model', default='', metavar='DIR',
                        help='with --torch: keep the network in DIR as .pt2 and .onnx, with a '
                             'node parameter file (yolov8n_shaped.yaml) for benchmark '
                             'latency')


def _stats(samples: List[float]) -> str:
    values = np.asarray(samples)
    return (f'p50 {np.percentile(values, 50):7.3f} ms  p99 {np.percentile(values, 99):7.3f} ms'
            f'  (n={len(values)})')


def _time_wall(fn: Callable[[], Any], iterations: int, warmup: int) -> List[float]:
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(iterations):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1e3)
    return samples


def _frame(width: int, height: int) -> np.ndarray:
    """Return a textured bgr8 frame (smooth gradients plus noise)."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    rng = np.random.default_rng(0)
    planes = [128 + 90 * np.sin(xx / (40.0 + 9 * c)) * np.cos(yy / 31.0) for c in range(3)]
    frame = np.stack(planes, axis=-1) + rng.normal(0, 12, (height, width, 3))
    return np.clip(frame, 0, 255).astype(np.uint8)


def bench_preprocess(args: argparse.Namespace, frame: np.ndarray) -> None:
    """Print the CPU path and the GPU stages for one frame size."""
    from accel_ai_ros.gpu import cuda
    from accel_ai_ros.gpu.preprocess import GpuPreprocessor
    image = DecodedImage(frame, 'bgr')
    spec = PreprocessSpec(args.size, args.size, resize_mode='letterbox')
    label = f'{args.width}x{args.height} bgr8 -> {args.size}x{args.size} letterbox float32 NCHW'
    print(f'device: {cuda.device_name(args.device)}  ({label})')
    cpu = CpuPreprocessor(spec)
    out_host = np.empty(spec.output_shape, np.float32)
    print(f'  cpu  CpuPreprocessor                 '
          f'{_stats(_time_wall(lambda: cpu(image, out=out_host), args.iterations, 20))}')
    pre = GpuPreprocessor(spec, device=args.device)
    stream = cuda.Stream(args.device)
    out = cuda.DeviceBuffer(pre.output_nbytes, args.device)
    begin, end = cuda.Event(args.device), cuda.Event(args.device)
    try:
        plan, params = pre.upload(image, stream.ptr)
        stream.synchronize()
        staged = pre._pinned.view(frame.shape, frame.dtype)
        print(f'  gpu  host copy into pinned           '
              f'{_stats(_time_wall(lambda: np.copyto(staged, frame), args.iterations, 20))}')

        def gpu_ms(queue: Callable[[], None]) -> List[float]:
            samples = []
            for i in range(args.warmup + args.iterations):
                begin.record(stream.ptr)
                queue()
                end.record(stream.ptr)
                ms = begin.elapsed_ms(end)
                if i >= args.warmup:
                    samples.append(ms)
            return samples

        nbytes = frame.nbytes
        upload = gpu_ms(lambda: cuda.memcpy_htod_async(params.src, pre._pinned.ptr, nbytes,
                                                       stream.ptr))
        print(f'  gpu  pinned upload (events)          {_stats(upload)}')
        kernel = gpu_ms(lambda: pre.launch(params, out.ptr, stream.ptr))
        print(f'  gpu  fused kernel (events)           {_stats(kernel)}')

        def whole() -> None:
            pre(image, out.ptr, stream.ptr)
            stream.synchronize()

        print(f'  gpu  copy+upload+kernel+sync (wall)  '
              f'{_stats(_time_wall(whole, args.iterations, args.warmup))}')
    finally:
        pre.close()
        out.free()
        begin.close()
        end.close()
        stream.close()


def yolov8n_shaped(torch: Any) -> Any:
    """Return a plain nn.Module of YOLOv8n's shape (BN folded into conv biases), eval mode."""
    nn = torch.nn

    class Conv(nn.Module):  # type: ignore[name-defined]
        def __init__(self, c1: int, c2: int, k: int = 1, s: int = 1) -> None:
            super().__init__()
            self.conv = nn.Conv2d(c1, c2, k, s, k // 2, bias=True)
            self.act = nn.SiLU()

        def forward(self, x: Any) -> Any:
            return self.act(self.conv(x))

    class Bottleneck(nn.Module):  # type: ignore[name-defined]
        def __init__(self, c: int, shortcut: bool) -> None:
            super().__init__()
            self.cv1, self.cv2, self.add = Conv(c, c, 3), Conv(c, c, 3), shortcut

        def forward(self, x: Any) -> Any:
            y = self.cv2(self.cv1(x))
            return x + y if self.add else y

    class C2f(nn.Module):  # type: ignore[name-defined]
        def __init__(self, c1: int, c2: int, n: int, shortcut: bool) -> None:
            super().__init__()
            self.c = c2 // 2
            self.cv1 = Conv(c1, 2 * self.c)
            self.cv2 = Conv((2 + n) * self.c, c2)
            self.m = nn.ModuleList(Bottleneck(self.c, shortcut) for _ in range(n))

        def forward(self, x: Any) -> Any:
            y = list(self.cv1(x).chunk(2, 1))
            for m in self.m:
                y.append(m(y[-1]))
            return self.cv2(torch.cat(y, 1))

    class SPPF(nn.Module):  # type: ignore[name-defined]
        def __init__(self, c1: int, c2: int) -> None:
            super().__init__()
            self.cv1, self.cv2 = Conv(c1, c1 // 2), Conv(c1 * 2, c2)
            self.m = nn.MaxPool2d(5, 1, 2)

        def forward(self, x: Any) -> Any:
            x = self.cv1(x)
            y1 = self.m(x)
            y2 = self.m(y1)
            return self.cv2(torch.cat([x, y1, y2, self.m(y2)], 1))

    class YoloV8nShaped(nn.Module):  # type: ignore[name-defined]
        def __init__(self, nc: int = 80) -> None:
            super().__init__()
            self.b0 = nn.Sequential(Conv(3, 16, 3, 2), Conv(16, 32, 3, 2), C2f(32, 32, 1, True),
                                    Conv(32, 64, 3, 2), C2f(64, 64, 2, True))
            self.b1 = nn.Sequential(Conv(64, 128, 3, 2), C2f(128, 128, 2, True))
            self.b2 = nn.Sequential(Conv(128, 256, 3, 2), C2f(256, 256, 1, True),
                                    SPPF(256, 256))
            self.up = nn.Upsample(scale_factor=2.0, mode='nearest')
            self.h1, self.h2 = C2f(384, 128, 1, False), C2f(192, 64, 1, False)
            self.d1, self.h3 = Conv(64, 64, 3, 2), C2f(192, 128, 1, False)
            self.d2, self.h4 = Conv(128, 128, 3, 2), C2f(384, 256, 1, False)
            self.box = nn.ModuleList(nn.Sequential(Conv(c, 64, 3), Conv(64, 64, 3),
                                                   nn.Conv2d(64, 64, 1)) for c in (64, 128, 256))
            self.cls = nn.ModuleList(nn.Sequential(Conv(c, 80, 3), Conv(80, 80, 3),
                                                   nn.Conv2d(80, nc, 1)) for c in (64, 128, 256))
            self.dfl = nn.Conv2d(16, 1, 1, bias=False)
            self.dfl.weight.data[:] = torch.arange(16.0).view(1, 16, 1, 1)

        def forward(self, x: Any) -> Any:
            p3 = self.b0(x)
            p4 = self.b1(p3)
            p5 = self.b2(p4)
            t4 = self.h1(torch.cat([self.up(p5), p4], 1))
            o3 = self.h2(torch.cat([self.up(t4), p3], 1))
            o4 = self.h3(torch.cat([self.d1(o3), t4], 1))
            o5 = self.h4(torch.cat([self.d2(o4), p5], 1))
            outs = [torch.cat([b(f), c(f)], 1).flatten(2)
                    for f, b, c in zip((o3, o4, o5), self.box, self.cls)]
            y = torch.cat(outs, 2)
            box, cls = y.split((64, y.shape[1] - 64), 1)
            n, _, a = box.shape
            dist = self.dfl(box.view(n, 4, 16, a).transpose(2, 1).softmax(1)).view(n, 4, a)
            return {'output0': torch.cat([dist, cls.sigmoid()], 1)}

    return YoloV8nShaped().eval()


#: The node's parameters for the network :func:`save_yolov8n_shaped` writes.
NODE_PARAMS = """# The YOLOv8n-shaped network (random weights) that
# benchmark gpu-preprocess --torch --save-model writes; the same .pt2 serves fp32 and
# fp16 (the torch backend casts the weights).
/**:
  ros__parameters:
    precision: fp16
    engines:
      fp32: yolov8n_shaped.pt2
      fp16: yolov8n_shaped.pt2
    task: detection
    detection_layout: yolov8
    resize_mode: letterbox
    channel_order: rgb
    score_threshold: 0.5
    max_frame_age_ms: 0.0
"""


def save_yolov8n_shaped(torch: Any, folder: Path, side: int = 640, onnx: bool = True,
                        seed: int = 0) -> Path:
    """Write the YOLOv8n-shaped network to ``folder``; return the .pt2 path.

    ``yolov8n_shaped.pt2`` is a float32 ``torch.export`` program of input 1x3xSxS;
    ``yolov8n_shaped.onnx`` (when ``onnx``) the same weights for ONNX Runtime, the CPU path;
    ``yolov8n_shaped.yaml`` the node's parameters. Weights come from ``seed``.
    """
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    model = yolov8n_shaped(torch)
    with torch.no_grad():
        for head in model.cls:  # most anchors are background, as in a trained detector
            head[-1].bias.fill_(-4.0)
    example = (torch.zeros(1, 3, side, side),)
    path = folder / 'yolov8n_shaped.pt2'
    torch.export.save(torch.export.export(model, example), str(path))
    if onnx:
        target = str(folder / 'yolov8n_shaped.onnx')
        try:  # the TorchScript exporter: one self-contained file
            torch.onnx.export(model, example, target, input_names=['images'],
                              output_names=['output0'], dynamo=False, opset_version=17)
        except Exception:  # noqa: B902 - newer PyTorch: the dynamo exporter only
            torch.onnx.export(model, example, target, input_names=['images'],
                              output_names=['output0'], dynamo=True, external_data=False)
    (folder / 'yolov8n_shaped.yaml').write_text(NODE_PARAMS, encoding='utf-8')
    return path


def bench_torch(args: argparse.Namespace, frame: np.ndarray) -> None:
    """Print eager against CUDA-graph forward times and the frame-to-host chain (FP16)."""
    import torch

    from accel_ai_ros.backends.torch.runner import TorchRunner
    side = args.size
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.save_model) if args.save_model else Path(tmp)
        path = save_yolov8n_shaped(torch, folder, side, onnx=bool(args.save_model))
        program = torch.export.load(str(path))
        params = sum(p.numel() for p in program.module().parameters())
        print(f'torch {torch.__version__} on {torch.cuda.get_device_name(args.device)}: '
              f'YOLOv8n-shaped network, {params / 1e6:.2f}M parameters, 1x3x{side}x{side} '
              f'-> {tuple(program.module()(torch.zeros(1, 3, side, side))["output0"].shape)}'
              + (f'; saved in {folder}' if args.save_model else ''))
        device = f'cuda:{args.device}'
        spec = PreprocessSpec(side, side, resize_mode='letterbox')
        image = DecodedImage(frame, 'bgr')
        for graph in (False, True):
            with TorchRunner(path, device=device, precision='fp16', cuda_graph=graph) as runner:
                name = 'cuda graph' if graph else 'eager     '
                assert isinstance(runner, TorchRunner)
                feed = {runner.inputs()[0].name: np.zeros((1, 3, side, side), np.float32)}
                gpu = []
                for i in range(args.warmup + args.iterations):
                    runner.infer(feed)
                    if i >= args.warmup:
                        gpu.append(runner.last_gpu_ms)
                print(f'  fp16 forward {name} (events)         {_stats(gpu)}')
                chain = _time_wall(lambda: runner.run_image(image, spec), args.iterations,
                                   args.warmup)
                print(f'  fp16 {name} chain {args.width}x{args.height} numpy frame -> host '
                      f'results  {_stats(chain)}')


def run(args: argparse.Namespace) -> int:
    """Run the benchmark; return the exit status."""
    frame = _frame(args.width, args.height)
    bench_preprocess(args, frame)
    if args.torch:
        bench_torch(args, frame)
    return 0
