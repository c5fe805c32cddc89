"""The ``ner`` command: train, evaluate, calibrate, tag, serve. Errors become one line and exit code 2."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

from ner.errors import InputError
from ner.models import default_model_path
from ner.tags import SCHEMES

log = logging.getLogger("ner")


def _add_device(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="auto", help="auto (GPU if present), cpu or cuda")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ner", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a model on CoNLL files")
    t.add_argument("--config", type=Path, help="TOML file with [model] and [train] tables")
    t.add_argument("--train", dest="train_file", type=Path, required=True, help="training CoNLL file")
    t.add_argument("--dev", type=Path, required=True, help="development CoNLL file (model selection)")
    t.add_argument("--embeddings", default=None, help="glove-6b-50d (default) or a GloVe/word2vec text file")
    t.add_argument("--out", type=Path, required=True, help="checkpoint to write (.pt)")
    t.add_argument("--scheme", choices=SCHEMES, help="tag scheme of the input files (detected if unset)")
    t.add_argument("--seed", type=int)
    t.add_argument("--epochs", type=int)
    t.add_argument("--batch-size", type=int)
    t.add_argument("--optimizer", choices=("adam", "nadam", "sgd"))
    t.add_argument("--lr", type=float)
    t.add_argument("--max-minutes", type=float, help="stop after this many minutes")
    t.add_argument("--resume", action="store_true", help="carry on an interrupted run of --out")
    t.add_argument("--force", action="store_true", help="overwrite an existing --out")
    _add_device(t)

    e = sub.add_parser("evaluate", help="score a model on a CoNLL file")
    e.add_argument("--model", type=Path, default=None, help="checkpoint (default: the bundled model)")
    e.add_argument("--data", type=Path, required=True)
    e.add_argument("--scheme", choices=SCHEMES)
    e.add_argument("--json", action="store_true", help="print JSON instead of a table")
    _add_device(e)

    c = sub.add_parser("calibrate", help="fit the temperature of entity scores on held-out data")
    c.add_argument("--model", type=Path, default=None, help="checkpoint to update in place")
    c.add_argument("--data", type=Path, required=True, help="tagged CoNLL file (the dev set)")
    c.add_argument("--half", choices=("even", "odd", "all"), default="even", help="sentences to fit on")
    _add_device(c)

    g = sub.add_parser("tag", help="tag a CoNLL or plain-text file")
    g.add_argument("--model", type=Path, default=None)
    g.add_argument("--input", type=Path, required=True)
    g.add_argument("--output", type=Path, required=True)
    g.add_argument("--format", choices=("conll", "text"), default="conll")
    _add_device(g)

    s = sub.add_parser("serve", help="run the HTTP service")
    s.add_argument("--model", type=Path, default=None)
    s.add_argument("--host", default=None)
    s.add_argument("--port", type=int, default=None)
    s.add_argument("--device", default=None, help="auto (GPU if present), cpu or cuda")
    return parser


def _read_toml(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise InputError("config file not found", path) from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"not valid TOML: {exc}", path) from None


def cmd_train(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ner.conll import read_conll
    from ner.embeddings import GLOVE_PACKAGE, load_vectors
    from ner.model import ModelConfig
    from ner.tagger import resolve_device
    from ner.train import EpochRecord, Interrupted, TrainConfig, resume_path, train

    config = _read_toml(args.config)
    known_model = {f.name for f in fields(ModelConfig)} - {"num_words", "num_chars", "num_tags"}
    known_train = {f.name for f in fields(TrainConfig)}
    model_cfg = dict(config.get("model", {}))
    train_cfg = dict(config.get("train", {}))
    for table, known, name in ((model_cfg, known_model, "model"), (train_cfg, known_train, "train")):
        unknown = set(table) - known
        if unknown:
            raise InputError(f"unknown keys in [{name}]: {', '.join(sorted(unknown))}", args.config)
    for key in ("seed", "epochs", "batch_size", "optimizer", "lr", "max_minutes"):
        value = getattr(args, key)
        if value is not None:
            train_cfg[key] = value
    try:
        cfg = TrainConfig(**train_cfg)
    except TypeError as exc:
        raise InputError(f"bad [train] table: {exc}", args.config) from None
    try:  # check the [model] table now, not after the data is read
        ModelConfig(num_words=2, num_chars=2, num_tags=1, **model_cfg)
    except (TypeError, ValueError) as exc:
        raise InputError(f"bad [model] table: {exc}", args.config) from None
    out: Path = args.out
    if args.resume and not resume_path(out).exists():
        raise InputError(f"nothing to resume: {resume_path(out)} does not exist", out)
    if out.exists() and not (args.force or args.resume):
        raise InputError("already exists (pass --force to overwrite it)", out)
    device = resolve_device(args.device)
    embeddings = args.embeddings or config.get("embeddings") or GLOVE_PACKAGE
    train_data = read_conll(args.train_file, args.scheme)
    dev_data = read_conll(args.dev, args.scheme or train_data.scheme)
    vectors = load_vectors(embeddings)
    log.info("%d training and %d dev sentences", len(train_data.sentences), len(dev_data.sentences))

    class Bar:
        def __init__(self) -> None:
            self.bar: Any = None

        def start_epoch(self, epoch: int, batches: int) -> None:
            self.bar = tqdm(total=batches, desc=f"epoch {epoch}", unit="batch", leave=False)

        def batch(self, loss: float) -> None:
            self.bar.update(1)
            self.bar.set_postfix(loss=f"{loss:.3f}", refresh=False)

        def end_epoch(self, record: EpochRecord, best: bool) -> None:
            self.bar.close()
            f1 = record.dev["overall"]["f1"]
            mark = " (best, saved)" if best else ""
            tqdm.write(
                f"epoch {record.epoch}: loss {record.loss:.3f}  dev F1 {f1:.2f}{mark}  "
                f"{record.seconds:.0f}s  lr {record.lr:.2e}"
            )

    started = time.monotonic()
    try:
        history = train(model_cfg, cfg, train_data, dev_data, vectors, out, device, Bar(), resume=args.resume)
    except Interrupted as exc:
        print(f"ner: {exc}; best checkpoint kept in {out}; carry on with --resume", file=sys.stderr)
        return 130
    minutes = (time.monotonic() - started) / 60
    print(
        f"best dev F1 {history.best_f1:.2f} at epoch {history.best_epoch}; "
        f"{len(history.epochs)} epochs in {minutes:.1f} min; wrote {out}"
    )
    return 0


def _load_tagger(path: Path | None, device: str) -> Any:
    from ner.process import freeze_loaded_objects
    from ner.tagger import Tagger

    tagger = Tagger.load(path or default_model_path(), device)
    freeze_loaded_objects()
    return tagger


def cmd_evaluate(args: argparse.Namespace) -> int:
    from ner.conll import read_conll
    from ner.evaluate import evaluate

    tagger = _load_tagger(args.model, args.device)
    data = read_conll(args.data, args.scheme)
    predicted = tagger.tag([s.tokens for s in data.sentences])
    report = evaluate([s.tags for s in data.sentences], predicted)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print(report.table())
    return 0


def cmd_calibrate(args: argparse.Namespace) -> int:
    from ner.calibrate import fit_temperature
    from ner.checkpoint import save_atomic
    from ner.conll import read_conll

    path = args.model or default_model_path()
    tagger = _load_tagger(path, args.device)
    data = read_conll(args.data)
    chosen = data.sentences if args.half == "all" else data.sentences[args.half == "odd" :: 2]
    temperature, nll, nll_one = fit_temperature(tagger, [s.tokens for s in chosen], [s.tags for s in chosen])
    obj = tagger.checkpoint()  # the loaded model as plain data: no second read of the file
    obj["metadata"]["calibration"] = {
        "temperature": temperature,
        "data": {"path": str(args.data), "sha256": data.sha256, "sentences": args.half},
        "nll_per_sentence": {"before": nll_one, "after": nll},
    }
    save_atomic(obj, path)
    print(f"temperature {temperature:.2f}: gold NLL per sentence {nll_one:.4f} -> {nll:.4f}; updated {path}")
    return 0


def cmd_tag(args: argparse.Namespace) -> int:
    from ner.annotate import tag_text
    from ner.conll import read_conll, read_lines
    from ner.tokenize import Tokenizer

    tagger = _load_tagger(args.model, args.device)
    tmp = args.output.with_name(args.output.name + ".tmp")
    if args.format == "conll":
        data = read_conll(args.input, with_tags=False)
        predicted = tagger.tag([s.tokens for s in data.sentences])
        by_line = {n: tag for s, tags in zip(data.sentences, predicted) for n, tag in zip(s.lines, tags)}
        lines = read_lines(args.input)
        with tmp.open("w", encoding="utf-8") as f:
            for number, line in enumerate(lines, start=1):
                tag = by_line.get(number)
                f.write(line if tag is None else f"{line.rstrip()} {tag}")
                f.write("\n")
    else:
        texts = read_lines(args.input)
        tokenizer = Tokenizer()
        with tmp.open("w", encoding="utf-8") as f:
            for text in texts:
                entities = tag_text(tagger, tokenizer, text)
                f.write(json.dumps({"text": text, "entities": entities}, ensure_ascii=False) + "\n")
    tmp.replace(args.output)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from app.main import serve

    overrides = {
        "model": str(args.model) if args.model else None,
        "host": args.host,
        "port": args.port,
        "device": args.device,
    }
    return serve({k: v for k, v in overrides.items() if v is not None})


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "train": cmd_train,
    "evaluate": cmd_evaluate,
    "calibrate": cmd_calibrate,
    "tag": cmd_tag,
    "serve": cmd_serve,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return COMMANDS[args.command](args)
    except InputError as exc:
        print(f"ner: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ner: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
