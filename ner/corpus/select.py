"""``ner select``: from a pool of unlabelled texts, the N the model is least sure of, to label next
(active learning; the measure: :mod:`ner.inference.uncertainty`). The pool is streamed in chunks and
only the N best candidates are kept, so memory is bounded by N, not by the pool."""

from __future__ import annotations

import heapq
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ner.corpus.engine import doccano_record, labelstudio_task
from ner.corpus.formats import Job, detect_format, parse_record, read_chunks
from ner.inference.pipeline import prepare_texts
from ner.inference.tagger import Tagger
from ner.inference.uncertainty import uncertainty
from ner.runtime import InputError
from ner.text.tokenize import Tokenizer

log = logging.getLogger(__name__)

SelectFormat = Literal["jsonl", "labelstudio", "doccano"]


@dataclass(frozen=True)
class SelectRun:
    """What ``ner select`` is asked: ``n`` records of ``input`` (JSON Lines or text) into ``output``."""

    input: str
    output: str
    n: int
    model: Path | None = None
    text_field: str = "text"
    output_format: SelectFormat = "jsonl"
    force: bool = False
    batch_size: int = 256


def select_records(run: SelectRun) -> tuple[int, list[float]]:
    """Write the ``n`` records the model is least sure of, most unsure first, each with its
    ``uncertainty`` and the model's entities (as pre-annotations with ``labelstudio`` or
    ``doccano``). Returns how many records the pool held and the chosen ones' uncertainties.

    Raises:
        InputError: bad options, a bad record (named by line), an output that exists (without
            ``force``).
    """
    from ner.corpus.files import Output, check_output, first_line, open_input
    from ner.model.bundled import default_model_path

    if run.n < 1:
        raise InputError(f"--n must be at least 1, got {run.n}")
    check_output(run.output, [run.input], run.force, False)
    stream = open_input(run.input)
    fmt = "text" if run.input == "-" else detect_format(run.input, first_line(stream))
    if fmt == "conll":
        raise InputError("the pool is texts: JSON Lines or one text per line, not CoNLL", run.input)
    job = Job(fmt, "jsonl", run.text_field)
    field = "text" if fmt == "text" else run.text_field
    tagger = Tagger.load(run.model or default_model_path(), "cpu", "numpy")
    tokenizer = Tokenizer(job.sentence_tokens, tagger.tokenizer_style)
    kept: list[tuple[float, int, dict[str, Any]]] = []  # a min-heap of the n most unsure so far
    seen = 0
    for chunk in read_chunks(stream, fmt):
        records = []
        for i, raw in enumerate(chunk.lines):
            try:
                record = parse_record(raw, chunk.first_line + i, job)
            except InputError as exc:
                raise exc.at(run.input) from None
            if record is not None:
                records.append(record)
        prepared = prepare_texts(tagger, tokenizer, [r[field] for r in records])
        documents = [[[t.word for t in s] for s in sentences] for sentences in prepared.split]
        for record, score in zip(records, uncertainty(tagger, documents, run.batch_size)):
            item = (score, -seen, record)  # ties: the earlier record first
            seen += 1
            if len(kept) < run.n:
                heapq.heappush(kept, item)
            elif item[:2] > kept[0][:2]:
                heapq.heapreplace(kept, item)
    chosen = sorted(kept, key=lambda item: item[:2], reverse=True)
    found = tagger.tag_texts([r[field] for _, _, r in chosen], tokenizer, run.batch_size)
    output = Output(run.output, resume=False, force=run.force, inputs=(run.input,))
    lines = []
    for (score, _, record), entities in zip(chosen, found):
        ents = [vars(e) for e in entities]
        if run.output_format == "labelstudio":
            task = labelstudio_task(record, field, ents, tagger.name)
            task["data"]["uncertainty"] = round(score, 6)
            lines.append(task)
        elif run.output_format == "doccano":
            lines.append(doccano_record(record, field, ents) | {"uncertainty": round(score, 6)})
        else:
            lines.append(record | {"uncertainty": round(score, 6), "entities": ents})
    if run.output_format == "labelstudio":
        output.write("[" + "\n,".join(json.dumps(x, ensure_ascii=False) for x in lines) + "]\n")
    else:
        output.write("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines))
    output.finish()
    log.info("chose %d of %d records of %s; wrote %s", len(chosen), seen, run.input, run.output)
    return seen, [score for score, _, _ in chosen]
