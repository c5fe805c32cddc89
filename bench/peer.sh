#!/usr/bin/env bash
# Our tagger and the spaCy peer on the same file, one after the other in one run, one thread each.
#   bash bench/peer.sh ../shared/data/conll2003/valid.txt   (spaCy in /tmp/spacy-venv, see ../shared/peers)
set -euo pipefail
DATA=${1:?usage: bench/peer.sh VALID_FILE}
SHARED=${SHARED:-$(dirname "$0")/../../shared}
PY=${PYTHON:-python}
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
echo "== ner (this project)"
"$PY" "$(dirname "$0")/speed.py" --dev "$DATA" --threads 1 --runs 3
echo "== spaCy peer"
/tmp/spacy-venv/bin/python "$SHARED/peers/spacy_bench.py" "$SHARED/peers/spacy-cnn-conll03" "$DATA"
