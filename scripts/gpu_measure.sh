#!/usr/bin/env bash
# The node on a GPU machine without ROS or network, in one invocation (docs/gpu.md):
# the GPU tests, then the latency benchmark at 1920x1080 bgr8 beside the bare chain
# (benchmark gpu-preprocess --torch), then the CPU path (ONNX Runtime) for comparison.
# Usage, from the project checkout on that machine:
#   bash scripts/gpu_measure.sh ROSDEV_TAR OUT_DIR [tests] [bench] [cpu] [gil] [nodetests] [quick]
# ROSDEV_TAR is ../shared/gpu-ros's rosdev.tar.xz (make-bundle.sh), with rosenv.sh beside it.
set -uo pipefail
tarball=$(cd "$(dirname "$1")" && pwd)/$(basename "$1"); out=$2; shift 2
steps=${*:-tests bench cpu}
main=$(pwd)
mkdir -p "$out" /tmp/rosdev
tar -C /tmp/rosdev -xJf "$tarball"
# shellcheck disable=SC1091
ROSDEV=/tmp/rosdev MAIN=$main . "$(dirname "$tarball")/rosenv.sh"
export ROS_DOMAIN_ID=$((100 + RANDOM % 100))
{
  echo "commit: $(git log -1 --format='%h %s' 2>/dev/null || echo unknown)"
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
  echo "cpus: $(nproc); python: $(python3 -V 2>&1); torch: $(python3 -c \
    'import torch; print(torch.__version__, torch.version.cuda)')"
} | tee "$out/machine.txt"
bench() { python3 -m accel_ai_ros_tools.bench "$@"; }
model=/tmp/yolov8n_shaped
latency=(latency --params-file $model/yolov8n_shaped.yaml --model-dir $model
         --sizes 1920x1080 --warmup 30)
for step in $steps; do
  case $step in
    tests)
      python3 -m pytest -q -p no:cacheprovider --timeout 300 -rs \
        test/test_gpu_first_use.py test/test_gpu_preprocess.py test/test_torch_runner.py \
        test/test_node_gpu.py 2>&1 | tee "$out/tests.txt" ;;
    bench)
      {
        bench gpu-preprocess --torch --save-model $model --iterations 300
        bench "${latency[@]}" --rate 30 --frames 300 --same-process
        bench "${latency[@]}" --rate 30 --frames 300
        bench "${latency[@]}" --rate 0 --frames 600 --same-process
        bench "${latency[@]}" --rate 0 --frames 600
      } 2>&1 | tee "$out/bench.txt" ;;
    nodetests)
      python3 -m pytest -q -p no:cacheprovider --timeout 120 -rs test/test_gpu_first_use.py \
        test/test_torch_runner.py test/test_node_gpu.py 2>&1 | tee "$out/nodetests.txt" ;;
    quick)  # the bare chain, then the node in one process: 30 Hz, 120 Hz, back to back
      {
        bench gpu-preprocess --torch --save-model $model --iterations 200
        bench "${latency[@]}" --rate 30 --frames 300 --same-process
        bench "${latency[@]}" --rate 120 --frames 600 --same-process
        bench "${latency[@]}" --rate 0 --frames 600 --same-process
      } 2>&1 | tee "$out/quick.txt" ;;
    gil)  # above 60 Hz and back to back: Python's GIL switch interval (5 ms) against 0.5 ms
      {
        bench "${latency[@]}" --rate 120 --frames 600 --same-process
        bench "${latency[@]}" --rate 120 --frames 600 --same-process --switch-interval-ms 0.5
        bench "${latency[@]}" --rate 0 --frames 600 --same-process --switch-interval-ms 0.5
        bench "${latency[@]}" --rate 0 --frames 600 --switch-interval-ms 0.5
      } 2>&1 | tee "$out/gil.txt" ;;
    cpu)
      sed -e 's/yolov8n_shaped.pt2/yolov8n_shaped.onnx/' -e 's/precision: fp16/precision: fp32/' \
        $model/yolov8n_shaped.yaml > $model/cpu.yaml
      bench latency --params-file $model/cpu.yaml --model-dir $model --sizes 1920x1080 \
        --warmup 30 --rate 30 --frames 300 2>&1 | tee "$out/cpu.txt" ;;
  esac
done
