"""spaCy's peer on raw texts, its own tokenizer included: the other side of ``bench/corpus.py``.

    /tmp/spacy-venv/bin/python bench/spacy_texts.py MODEL_DIR TEXTS.jsonl N_PROCESS

One thread per process, as spaCy runs by default on a CPU; prints tokens and entities found.
"""

import json
import os
import sys

for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(name, "1")
import spacy  # noqa: E402

nlp = spacy.load(sys.argv[1])
with open(sys.argv[2], encoding="utf-8") as f:
    texts = [json.loads(line)["text"] for line in f]
docs = list(nlp.pipe(texts, batch_size=256, n_process=int(sys.argv[3])))
print(sum(map(len, docs)), "tokens,", sum(len(d.ents) for d in docs), "entities")
