"""The ner command: train, evaluate, calibrate, tag, serve. Errors become one line and exit code 2."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from ner.corpus.formats import OUTPUT_FORMATS
from ner.model.bundled import default_model_path
from ner.runtime import InputError, WorkerDied
from ner.text.spans import ALIGNS, DATA_FORMATS
from ner.text.tags import SCHEMES

if TYPE_CHECKING:
    from ner.inference.tagger import BackendName, Tagger

T = TypeVar("T")

log = logging.getLogger("ner")


def _add_device(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="auto", help="auto (the GPU if there is one), cpu or cuda")


DATA_HELP = (
    "CoNLL, or JSON (Lines) of texts with character-offset entities (doccano, Label Studio, spaCy, ner)"
)


def _add_data_format(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data-format", choices=DATA_FORMATS, default=None,
        help="format of the data files (default: .json/.jsonl are span data of a detected shape, else conll)",
    )  # fmt: skip
    p.add_argument(
        "--align", choices=ALIGNS, default="strict",
        help="span data: an entity whose edges are not token edges is an error (strict), or grows to the "
        "tokens it touches (expand) or shrinks to those inside it (contract)",
    )  # fmt: skip


class _Help(argparse.RawDescriptionHelpFormatter):
    """Each flag's default after its help line (unless the line names it or there is none to show);
    descriptions and examples kept as written."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if (
            action.default in (None, False, argparse.SUPPRESS)
            or "default" in text
            or not action.option_strings
        ):
            return text
        return f"{text} (default: %(default)s)"


DESCRIPTION = """\
Named-entity recognition with a BiLSTM-CNN-CRF: train, evaluate, calibrate, tag files, choose what
to label next, serve HTTP.
Run 'ner COMMAND --help' for a command's flags and an example.

exit codes: 0 done, 2 bad input (one line on stderr names the file and line), 130 interrupted
(Ctrl-C or SIGTERM; train and tag keep their work and carry on with --resume)."""


TAG_DESCRIPTION = """\
Tag a corpus, streamed in chunks, in input order, on every core.

Input: jsonl (a JSON object per line, the text in --text-field, other fields kept), text (a text per
line) or conll, told by the name (.jsonl .txt .conll; .gz for gzip) or --format; - is stdin.
Output: JSON Lines, each record plus the entities POST /tag gives (CoNLL input gives CoNLL with one
more column, unless the output is named .jsonl); - is stdout. The output is written as NAME.partial
and renamed when complete: an interrupted run leaves whole lines there, and --resume continues it."""


def _command(sub: Any, name: str, summary: str, example: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(
        name, help=summary, description=summary, epilog=f"example:\n  {example}", formatter_class=_Help
    )
    return parser


def _parser() -> argparse.ArgumentParser:
    from ner import __version__

    parser = argparse.ArgumentParser(prog="ner", description=DESCRIPTION, formatter_class=_Help)
    parser.add_argument("--version", action="version", version=f"ner-service {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    t = _command(
        sub, "train", "train a model on CoNLL or annotation-tool JSON (default: the bundled recipe)",
        "ner train --train train.txt --dev valid.txt --out runs/model.pt",
    )  # fmt: skip
    t.add_argument("--config", type=Path, help="TOML file with [model] and [train] tables (configs/)")
    t.add_argument("--train", dest="train_file", type=Path, required=True, help=f"training data: {DATA_HELP}")
    t.add_argument("--dev", type=Path, required=True, help="development data (model selection), as --train")
    _add_data_format(t)
    t.add_argument(
        "--embeddings", default=None, help="glove-6b-50d (the default) or a GloVe/word2vec text file"
    )
    t.add_argument(
        "--out", type=Path, required=True, help="checkpoint to write (.pt); NAME.resume.pt beside it"
    )
    t.add_argument("--scheme", choices=SCHEMES, help="tag scheme of the input files (default: detected)")
    t.add_argument(
        "--tokenizer", choices=("conll", "social", "whitespace"),
        help="the raw-text tokenizer the model is for, recorded in it and used by ner serve and ner tag: "
        "conll (newswire), social (keeps @user, #tag, URLs, emoji whole), whitespace (default: the "
        "config's, else conll)",
    )  # fmt: skip
    t.add_argument("--seed", type=int, help="random seed (default: the config's, else 1)")
    t.add_argument("--epochs", type=int, help="most epochs (default: the config's, else 22)")
    t.add_argument("--batch-size", type=int, help="sentences per step (default: the config's, else 32)")
    t.add_argument("--optimizer", choices=("adam", "nadam", "sgd"), help="default: the config's, else nadam")
    t.add_argument("--lr", type=float, help="learning rate (default: the config's, else 0.002)")
    t.add_argument("--max-minutes", type=float, help="stop after the epoch that passes this many minutes")
    t.add_argument(
        "--final", action="store_true",
        help="train on --train and --dev together for exactly --epochs epochs (the best epoch of a run "
        "that --dev selected) and keep the last; its dev scores are then on data it saw",
    )  # fmt: skip
    t.add_argument(
        "--teacher", dest="teachers", action="append", metavar="CHECKPOINT",
        help="distil: learn also each token's mean tag distribution under these models (repeat the "
        "flag for an ensemble; same tags as this run), weighted by [train] distil (default 0.5)",
    )  # fmt: skip
    t.add_argument(
        "--gazetteer", dest="gazetteer", action="append", metavar="FILE",
        help="name lists, lines of LABEL<TAB>name (repeat for more files): the model reads which tokens "
        "each list names; the lists go into the checkpoint",
    )  # fmt: skip
    t.add_argument("--resume", action="store_true", help="carry on a run of --out that was stopped")
    t.add_argument("--force", action="store_true", help="overwrite an existing --out")
    _add_device(t)

    e = _command(
        sub, "evaluate", "score a model on tagged data (CoNLL or JSON): P / R / F1 per type, as conlleval",
        "ner evaluate --data valid.txt --model runs/model.pt",
    )  # fmt: skip
    e.add_argument("--model", type=Path, default=None, help="checkpoint (default: the bundled model)")
    e.add_argument("--data", type=Path, required=True, help=f"tagged data: {DATA_HELP}")
    _add_data_format(e)
    e.add_argument("--scheme", choices=SCHEMES, help="tag scheme of the file (default: detected)")
    e.add_argument("--json", action="store_true", help="print JSON instead of a table")
    e.add_argument(
        "--strict", action="store_true",
        help="exit 2 when the model's and the data's entity types differ (else a warning)",
    )  # fmt: skip
    _add_device(e)

    c = _command(
        sub, "calibrate", "fit the temperature of entity scores on held-out data (updates the model)",
        "ner calibrate --data valid.txt --model runs/model.pt",
    )  # fmt: skip
    c.add_argument(
        "--model", type=Path, default=None, help="checkpoint to update (default: the bundled model)"
    )
    source = c.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--data",
        type=Path,
        help="tagged data the model did not train on (the dev set), as ner evaluate reads",
    )
    source.add_argument(
        "--temperature-from", type=Path, metavar="CHECKPOINT",
        help="copy the temperature of another checkpoint instead of fitting one: for a --final model, a "
        "run of the same recipe that dev selected",
    )  # fmt: skip
    c.add_argument("--half", choices=("even", "odd", "all"), default="even", help="sentences to fit on")
    _add_data_format(c)
    _add_device(c)

    g = sub.add_parser(
        "tag",
        help="tag a corpus: JSON Lines, plain text or CoNLL, plain or gzip",
        description=TAG_DESCRIPTION,
        epilog="example:\n  ner tag --input news.jsonl.gz --output news.tagged.jsonl.gz",
        formatter_class=_Help,
    )
    g.add_argument("--model", type=Path, default=None, help="checkpoint (default: the bundled model)")
    g.add_argument("--input", required=True, help="file to tag, or - for stdin")
    g.add_argument("--output", required=True, help="file to write, or - for stdout")
    g.add_argument(
        "--format",
        choices=("jsonl", "text", "conll"),
        default=None,
        help="input format (default: from the name)",
    )
    g.add_argument(
        "--output-format", choices=OUTPUT_FORMATS, default=None,
        help="output format (default: conll for CoNLL input, unless the output is named .jsonl); "
        "labelstudio and doccano write pre-annotations those tools import, scores included",
    )  # fmt: skip
    g.add_argument("--text-field", default="text", help="the JSON field holding the text (jsonl input)")
    g.add_argument("--workers", type=int, default=None, help="model processes (default: the CPU count)")
    g.add_argument("--batch-size", type=int, default=256, help="sentences per model call")
    g.add_argument("--skip-bad", action="store_true", help="skip and count bad records instead of stopping")
    g.add_argument("--resume", action="store_true", help="continue OUTPUT.partial from an interrupted run")
    g.add_argument("--force", action="store_true", help="overwrite an existing output")
    g.add_argument(
        "--engine", choices=("local", "ray"), default="local",
        help="local processes, or Ray Data (pip install 'ner-service[ray]'): then --input and --output "
        "are files or folders (JSONL, text or Parquet) and --output gets one shard per block",
    )  # fmt: skip
    g.add_argument("--address", default=None, help="Ray cluster address (default: start a local Ray)")
    g.add_argument(
        "--backend", choices=("auto", "numpy", "torch", "onnx"), default="auto",
        help="compute the model in numpy (starts in 0.5 s: best below about 1 MB per worker) or PyTorch "
        "(starts in 3 s, then 1.5x faster; needed for a GPU); auto picks by input size and device",
    )  # fmt: skip
    _add_device(g)
    u = _command(
        sub, "tune", "search hyper-parameters with Optuna (pip install 'ner-service[tune]')",
        "ner tune --train train.txt --dev dev.txt --trials 20 --out runs/tune",
    )  # fmt: skip
    u.add_argument("--train", dest="train_file", type=Path, help="training CoNLL file")
    u.add_argument("--dev", type=Path, help="development CoNLL file (each trial's score)")
    u.add_argument(
        "--out", type=Path, required=True, help="folder for the study, best.toml, trials.csv, plots"
    )
    u.add_argument("--space", type=Path, default=None, help="search space TOML (default: the shipped one)")
    u.add_argument(
        "--config", type=Path, default=None, help="fixed [model]/[train] settings the trials start from"
    )
    u.add_argument(
        "--embeddings", default=None, help="glove-6b-50d (the default) or a GloVe/word2vec text file"
    )
    u.add_argument(
        "--trials", type=int, default=20, help="finished trials the study should hold, all workers together"
    )
    u.add_argument("--timeout", type=float, default=None, help="stop starting trials after this many minutes")
    u.add_argument("--epochs-per-trial", type=int, default=10, help="most epochs of one trial")
    u.add_argument("--max-minutes-per-trial", type=float, default=0.0, help="time cap of one trial (0: none)")
    u.add_argument("--storage", default=None, help="Optuna RDB URL (default: sqlite:///OUT/study.db)")
    u.add_argument("--study", default="ner", help="study name in the storage")
    u.add_argument(
        "--sampler",
        choices=("tpe", "cmaes", "random", "woa"),
        default="tpe",
        help="how trials are chosen (woa: the whale optimisation algorithm, see --population)",
    )
    u.add_argument(
        "--pruner", choices=("median", "hyperband", "none"), default="median", help="stops bad trials early"
    )
    u.add_argument("--seed", type=int, default=None, help="the sampler's seed (default: random)")
    u.add_argument("--population", type=int, default=8, help="woa: whales per generation")
    u.add_argument(
        "--generations", type=int, default=10, help="woa: generations over which a falls from 2 to 0"
    )
    u.add_argument("--spiral", type=float, default=1.0, help="woa: the spiral constant b")
    u.add_argument("--scheme", choices=SCHEMES, help="tag scheme of the input files (default: detected)")
    u.add_argument(
        "--report",
        action="store_true",
        help="print the study's leaderboard; runs no trials and writes nothing",
    )
    _add_device(u)

    a = _command(
        sub, "select", "choose what to label next: the records of a pool the model is least sure of",
        "ner select --input pool.jsonl --n 200 --output next.json --output-format labelstudio",
    )  # fmt: skip
    a.add_argument("--model", type=Path, default=None, help="checkpoint (default: the bundled model)")
    a.add_argument(
        "--input", required=True, help="the pool: JSON Lines (text in --text-field) or a text per line"
    )
    a.add_argument("--output", required=True, help="the chosen records, most unsure first")
    a.add_argument("--n", type=int, required=True, help="how many records to choose")
    a.add_argument("--text-field", default="text", help="the JSON field holding the text")
    a.add_argument(
        "--output-format", choices=("jsonl", "labelstudio", "doccano"), default="jsonl",
        help="jsonl: each record with its uncertainty and entities; labelstudio or doccano: pre-annotated "
        "tasks to import",
    )  # fmt: skip
    a.add_argument("--force", action="store_true", help="replace an existing output")

    x = _command(
        sub, "export", "write a model's network as an ONNX graph for the onnx backend (an extra)",
        "ner export --format onnx --model runs/model.pt   # writes runs/model.onnx",
    )  # fmt: skip
    x.add_argument("--format", choices=("onnx",), default="onnx", help="the graph's format")
    x.add_argument("--model", type=Path, default=None, help="checkpoint (default: the bundled model)")
    x.add_argument("--out", type=Path, default=None, help="the graph (default: beside the model, .onnx)")

    s = _command(
        sub, "serve", "run the HTTP service (settings also from NER_* environment variables)",
        "ner serve --model runs/model.pt --host 0.0.0.0 --port 8000",
    )  # fmt: skip
    s.add_argument(
        "--model", type=Path, default=None, help="checkpoint (default: NER_MODEL, else the bundled model)"
    )
    s.add_argument("--host", default=None, help="address to listen on (default: NER_HOST, else 127.0.0.1)")
    s.add_argument("--port", type=int, default=None, help="port (default: NER_PORT, else 8000)")
    s.add_argument("--device", default=None, help="auto, cpu or cuda (default: NER_DEVICE, else auto)")
    s.add_argument(
        "--workers", type=int, default=None,
        help="model processes, one thread each (default: NER_WORKERS, else one fewer than the cores "
        "from 3 cores on, else 1)",
    )  # fmt: skip
    return parser


TRAIN_FLAGS = ("seed", "epochs", "batch_size", "optimizer", "lr", "max_minutes", "tokenizer")  # -> [train]


def cmd_train(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ner.runtime import resolve_device
    from ner.text.spans import read_corpus
    from ner.training.config import load_recipe
    from ner.training.embeddings import GLOVE_PACKAGE, load_vectors
    from ner.training.train import EpochRecord, Interrupted, resume_path, train

    if args.final and args.epochs is None:
        raise InputError("--final needs --epochs: the best epoch of a run that --dev selected")
    overrides = {key: getattr(args, key) for key in TRAIN_FLAGS}
    given = {"teachers": args.teachers, "gazetteer": args.gazetteer, "final": args.final or None}
    recipe = load_recipe(args.config, {**overrides, **given})
    model_cfg, cfg = recipe.model, recipe.train
    out: Path = args.out
    if args.resume and not resume_path(out).exists():
        raise InputError(f"nothing to resume: {resume_path(out)} does not exist", out)
    if out.exists() and not (args.force or args.resume):
        raise InputError("already exists (pass --force to overwrite it)", out)
    device = resolve_device(args.device)
    embeddings = args.embeddings or recipe.embeddings or GLOVE_PACKAGE
    style, fmt, align = cfg.tokenizer, args.data_format, args.align
    train_data = read_corpus(args.train_file, fmt, style, align, args.scheme)
    dev_data = read_corpus(args.dev, fmt, style, align, args.scheme or train_data.scheme)
    if cfg.final:
        from ner.training.data import joined

        train_data = joined(train_data, dev_data)
        log.info("--final: %s for %d epochs; dev scores are on seen data", train_data.path, cfg.epochs)
    vectors = load_vectors(embeddings)
    log.info("%d training and %d dev sentences", len(train_data.sentences), len(dev_data.sentences))
    shown_model = " ".join(f"{k}={v}" for k, v in asdict(recipe.model_config(vectors.dim)).items())
    log.info("config %s: [model] %s", args.config or "(built-in defaults: the bundled recipe)", shown_model)
    log.info("[train] %s", " ".join(f"{k}={v}" for k, v in asdict(cfg).items()))
    log.info("tag scheme: the data's %s, trained as %s", train_data.scheme, cfg.scheme)

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
            raw = "" if record.raw_dev_f1 is None else f" (last step's weights {record.raw_dev_f1:.2f})"
            tqdm.write(
                f"epoch {record.epoch}: loss {record.loss:.3f}  dev F1 {f1:.2f}{raw}{mark}  "
                f"{record.seconds:.0f}s  lr {record.lr:.2e}"
            )

    started = time.monotonic()
    bar = Bar()
    try:
        history = train(model_cfg, cfg, train_data, dev_data, vectors, out, device, bar, resume=args.resume)
    except Interrupted as exc:
        print(f"ner: {exc}; best checkpoint kept in {out}; carry on with --resume", file=sys.stderr)
        return 130
    finally:
        if bar.bar is not None:
            bar.bar.close()  # an error then starts a line of its own
    minutes = (time.monotonic() - started) / 60
    print(
        f"best dev F1 {history.best_f1:.2f} at epoch {history.best_epoch}; "
        f"{len(history.epochs)} epochs in {minutes:.1f} min; wrote {out}"
    )
    if history.time_limited:
        print(f"ner: stopped by --max-minutes; carry on with --resume (state in {resume_path(out)})")
    return 0


def _load_tagger(path: Path | None, device: str, backend: BackendName = "torch") -> Tagger:
    from ner.inference.tagger import Tagger
    from ner.runtime import freeze_loaded_objects

    tagger = Tagger.load(path or default_model_path(), device, backend)
    freeze_loaded_objects()
    return tagger


def cmd_evaluate(args: argparse.Namespace) -> int:
    from ner.inference.evaluation import evaluate_tagger
    from ner.text.spans import read_corpus

    tagger = _load_tagger(args.model, args.device)
    data = read_corpus(args.data, args.data_format, tagger.tokenizer_style, args.align, args.scheme)
    result = evaluate_tagger(tagger, data, args.strict)
    if args.json:
        print(json.dumps({**result.report.to_dict(), "seen_in_training": bool(result.seen)}, indent=2))
    else:
        print(result.report.table())
        if result.seen:
            print(f"(seen in training: {args.data} is {result.seen})")
    return 0


def cmd_calibrate(args: argparse.Namespace) -> int:
    from ner.inference.calibrate import calibrate
    from ner.model.checkpoint import load_checkpoint, save_atomic
    from ner.text.spans import read_corpus

    path = args.model or default_model_path()
    tagger = _load_tagger(path, args.device)
    source = args.temperature_from
    if source is not None:
        calibration = load_checkpoint(source)["metadata"].get("calibration")
        if not calibration:
            raise InputError("has no temperature to copy (run ner calibrate --data on it first)", source)
        tagger.metadata["calibration"] = {**calibration, "copied_from": str(source)}
        save_atomic(tagger.checkpoint(), path)  # the loaded model as plain data: no second read
        temperature = float(calibration["temperature"])
        print(f"temperature {temperature:.2f} copied from {source}; updated {path}")
        return 0
    try:
        data = read_corpus(args.data, args.data_format, tagger.tokenizer_style, args.align)
        calibration = calibrate(tagger, data, args.half)
    except InputError as exc:
        raise InputError(f"{path}: {exc.reason}", args.data) from None
    save_atomic(tagger.checkpoint(), path)
    nll = calibration["nll_per_sentence"]
    temperature = calibration["temperature"]
    print(
        f"temperature {temperature:.2f}: gold NLL per sentence {nll['before']:.4f} -> {nll['after']:.4f}; "
        f"updated {path}"
    )
    return 0


def cmd_tag(args: argparse.Namespace) -> int:
    if args.engine == "ray":
        return _tag_with_ray(args)
    from tqdm import tqdm

    from ner.corpus.engine import TagRun, tag_file

    run = TagRun(
        args.input, args.output, args.model, args.format, args.output_format, args.text_field,
        args.skip_bad, args.batch_size, args.workers, args.backend, args.device, args.resume, args.force,
    )  # fmt: skip
    size = None if args.input == "-" or args.input.endswith(".gz") else os.path.getsize(args.input)
    bar = tqdm(total=size, unit="B", unit_scale=True, desc="tagging", disable=None, dynamic_ncols=True)
    started = time.monotonic()

    def progress(done: int, records: int, tokens: int) -> None:
        bar.update(done - bar.n)
        rate = max(time.monotonic() - started, 1e-9)
        bar.set_postfix_str(f"{records / rate:,.0f} texts/s, {tokens / rate:,.0f} tokens/s")

    try:
        report = tag_file(run, progress)
    finally:
        bar.close()
    if report.signal is not None:
        where = "" if report.partial is None else f"; {report.records} records so far are in {report.partial}"
        print(f"ner: stopped by signal {report.signal}{where}: carry on with --resume", file=sys.stderr)
        return 130
    return 0


def _tag_with_ray(args: argparse.Namespace) -> int:
    from ner.corpus.ray_engine import tag_with_ray

    tag_with_ray(
        args.input, args.output, args.model or default_model_path(), fmt=args.format,
        text_field=args.text_field, workers=args.workers, device=args.device, address=args.address,
        batch_size=args.batch_size, force=args.force,
    )  # fmt: skip
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from app.main import serve

    overrides = {
        "model": str(args.model) if args.model else None,
        "host": args.host,
        "port": args.port,
        "device": args.device,
        "workers": args.workers,
    }
    return serve({k: v for k, v in overrides.items() if v is not None})


def _cell(value: object, key: str) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.2f}" if key in ("dev_f1", "minutes") else f"{value:.4g}"
    return str(value)


def cmd_tune(args: argparse.Namespace) -> int:
    from ner.training.config import read_toml
    from ner.training.tune import (
        Search,
        default_space,
        leaderboard,
        make_study,
        read_space,
        run_search,
        write_outputs,
    )

    out: Path = args.out
    if not args.report and (args.train_file is None or args.dev is None):
        raise InputError("ner tune needs --train and --dev (or --report to show a study)")
    for name, value in (("--trials", args.trials), ("--epochs-per-trial", args.epochs_per_trial)):
        if value < 1:
            raise InputError(f"{name} must be at least 1, got {value}")
    space = read_space(args.space or default_space())
    config = read_toml(args.config)
    if args.report and args.storage is None and not (out / "study.db").is_file():
        raise InputError("holds no study.db: nothing to report (give --storage for another store)", out)
    if not args.report:
        out.mkdir(parents=True, exist_ok=True)
    storage = args.storage or f"sqlite:///{(out / 'study.db').resolve()}"
    if args.population < 2 or args.generations < 1:
        raise InputError("--population must be at least 2 and --generations at least 1")
    study = make_study(
        storage,
        args.study,
        args.sampler,
        args.pruner,
        args.seed,
        args.population,
        args.generations,
        args.spiral,
    )
    search = Search(
        train_file=args.train_file, dev_file=args.dev,
        embeddings=args.embeddings or config.get("embeddings") or "glove-6b-50d",
        base_model=dict(config.get("model", {})), base_train=dict(config.get("train", {})),
        epochs_per_trial=args.epochs_per_trial, minutes_per_trial=args.max_minutes_per_trial,
        device=args.device, scheme=args.scheme,
    )  # fmt: skip
    if not args.report:
        log.info(
            "study %r in %s: %d trials of at most %d epochs",
            args.study,
            storage,
            args.trials,
            args.epochs_per_trial,
        )
        run_search(study, search, space, args.trials, args.timeout)
    rows = leaderboard(study)
    if not rows:
        print(f"study {args.study!r} in {storage} holds no trials")
        return 0
    keys = list(dict.fromkeys(k for r in rows for k in r))
    print(" | ".join(keys))
    for row in rows:
        print(" | ".join(_cell(row.get(k), k) for k in keys))
    if args.report:  # only reads: best.toml was written with the study's own --config base
        return 0
    for path in write_outputs(study, search, out):
        log.info("wrote %s", path)
    return 0


def cmd_select(args: argparse.Namespace) -> int:
    from ner.corpus.select import SelectRun, select_records

    run = SelectRun(
        args.input, args.output, args.n, args.model, args.text_field, args.output_format, args.force
    )
    seen, chosen = select_records(run)
    if not chosen:
        print(f"the pool {args.input} holds no records; wrote an empty {args.output}")
        return 0
    spread = f"uncertainty {chosen[0]:.3f} to {chosen[-1]:.3f}"
    print(f"chose {len(chosen)} of {seen} records ({spread}); wrote {args.output}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from ner.model.onnx_backend import graph_path
    from ner.model.onnx_export import export_onnx

    model = args.model or default_model_path()
    out = args.out or graph_path(model)
    worst = export_onnx(model, out)
    print(
        f"wrote {out} (states within {worst:.1e} of PyTorch); tag with it: Tagger.load(..., backend='onnx')"
    )
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "train": cmd_train,
    "evaluate": cmd_evaluate,
    "calibrate": cmd_calibrate,
    "tag": cmd_tag,
    "tune": cmd_tune,
    "select": cmd_select,
    "export": cmd_export,
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
    except OSError as exc:  # a full disk, a permission, a vanished folder: what failed, in one line
        where = f": {exc.filename}" if exc.filename else ""
        print(f"ner: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 2
    except WorkerDied as exc:
        print(f"ner: error: {exc}; what was written is kept: carry on with --resume", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        print("ner: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
