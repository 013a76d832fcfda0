#!/usr/bin/env bash
# benchmark triton against a real Triton server on 127.0.0.1: pytriton's bundled
# tritonserver (test/triton_server.py, environment built once under build/triton-server),
# serving the model through the Python backend (ONNX Runtime inside the server).
# Usage: bash scripts/bench_triton.sh [MODEL.onnx] [benchmark triton options...]
#   MODEL defaults to ../shared's face detector (320x240). A model with a dynamic batch
#   dimension is served twice, with and without dynamic batching, and the clients run on both.
set -euo pipefail
# shellcheck source=scripts/env.sh
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
accel_env_load_venv
cd "$ACCEL_REPO"
MODEL="${1:-../shared/models/face-detector-slim-320/version-slim-320.onnx}"
shift || true
PYTHONPATH="$ACCEL_REPO/test${PYTHONPATH:+:$PYTHONPATH}" python - "$MODEL" "$@" <<'PYEOF'
import pathlib
import sys
import tempfile

import triton_server

from accel_ai_ros_tools.bench import main
from accel_ai_ros_tools.bench_triton import write_probe

folder = pathlib.Path(tempfile.mkdtemp(prefix='bench_triton_'))
server = triton_server.start_server(folder / 'repo', folder / 'tritonserver.log')
try:
    # One ONNX Runtime thread inside the server, as in each local client (--local-threads).
    url = server.deploy(pathlib.Path(sys.argv[1]), 'bench_model', threads=1)
    probe = write_probe(sys.argv[1], str(folder / 'probe.onnx'))
    probe_url = server.deploy(pathlib.Path(probe), 'bench_probe', threads=1)
    extra = []
    if 'max_batch_size: 0' not in (folder / 'repo' / 'bench_model' / 'config.pbtxt').read_text():
        # The model has a batch dimension: also serve it unbatched, to see what batching buys.
        unbatched = server.deploy(pathlib.Path(sys.argv[1]), 'bench_model_unbatched',
                                  threads=1, max_batch=0)
        extra = ['--unbatched-url', unbatched]
    status = main(['triton', '--onnx', sys.argv[1], '--url', url, '--probe-onnx', probe,
                   '--probe-url', probe_url] + extra + sys.argv[2:])
finally:
    server.stop()
sys.exit(status)
PYEOF
