"""``ner tune``: hyper-parameter search with Optuna over the project's own training loop.

A search space is a TOML file whose tables name ``[model]`` and ``[train]`` settings, each with a range
(``low``/``high``, integers or floats), a log-range (``log = true``) or ``choices``:

    [model.hidden]
    choices = [100, 128, 200]

    [train.lr]
    low = 1e-4
    high = 1e-2
    log = true

Each trial trains with :func:`ner.training.train.train` on a fixed config plus its sampled settings,
reports dev F1 after every epoch (so that a pruner can stop it) and scores its best dev F1. The study
lives in an Optuna RDB storage (SQLite in the output folder by default), so a search can be interrupted
and run again, and several processes pointed at one storage and study share the work: the study stops
once it holds the asked number of finished trials, whoever ran them. A trial that fails is recorded as
failed and the study goes on. Optuna is an optional extra (``pip install 'ner-service[tune]'``),
imported only here.
"""

from __future__ import annotations

import contextlib
import csv
import logging
import math
import tempfile
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from ner.model.config import SETTINGS, ModelConfig
from ner.runtime import InputError, stop_on_signals

log = logging.getLogger(__name__)

SAMPLERS = ("tpe", "cmaes", "random", "woa")
PRUNERS = ("median", "hyperband", "none")
MODEL_KEYS = SETTINGS - {"word_dim"}  # word_dim comes from the vectors


@dataclass(frozen=True)
class Param:
    """One searched setting: ``table.name`` and its range or choices."""

    table: str  # "model" or "train"
    name: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: tuple[Any, ...] | None = None

    @property
    def key(self) -> str:
        return f"{self.table}.{self.name}"

    def suggest(self, trial: Any) -> Any:
        """This setting's value for ``trial``: integers for a range of integers, else floats."""
        if self.choices is not None:
            return trial.suggest_categorical(self.key, list(self.choices))
        assert self.low is not None and self.high is not None
        if isinstance(self.low, int) and isinstance(self.high, int):
            step = 1 if self.step is None else int(self.step)
            return trial.suggest_int(self.key, self.low, self.high, step=step, log=self.log)
        return trial.suggest_float(self.key, float(self.low), float(self.high), log=self.log, step=self.step)


def read_space(path: Path) -> list[Param]:
    """The search space of a TOML file.

    Raises:
        InputError: naming the file and the key, for an unknown setting, a range without both ends, a
            low end above the high one, a log-range that does not start above zero, or an empty list
            of choices.
    """
    from ner.training.config import TrainConfig

    try:
        with path.open("rb") as f:
            raw = tomllib.load(f)
    except FileNotFoundError:
        raise InputError("search space file not found", path) from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"not valid TOML: {exc}", path) from None
    known = {"model": MODEL_KEYS, "train": {f.name for f in fields(TrainConfig)} - {"max_minutes", "seed"}}
    params: list[Param] = []
    for table, entries in raw.items():
        if table not in known:
            raise InputError(f"unknown table [{table}] (expected [model] or [train])", path)
        if not isinstance(entries, dict):
            raise InputError(f"[{table}] must be a table of settings", path)
        for name, spec in entries.items():
            key = f"{table}.{name}"
            if name not in known[table]:
                raise InputError(f"{key}: unknown setting (known: {', '.join(sorted(known[table]))})", path)
            params.append(_param(table, name, spec, key, path))
    if not params:
        raise InputError("the search space is empty", path)
    return params


def _param(table: str, name: str, spec: Any, key: str, path: Path) -> Param:
    if not isinstance(spec, dict):
        raise InputError(f"{key}: expected a table with low/high or choices, got {spec!r}", path)
    unknown = set(spec) - {"low", "high", "log", "step", "choices"}
    if unknown:
        raise InputError(f"{key}: unknown field {', '.join(sorted(unknown))}", path)
    if "choices" in spec:
        choices = spec["choices"]
        if not isinstance(choices, list) or not choices:
            raise InputError(f"{key}: choices must be a non-empty list", path)
        return Param(table, name, choices=tuple(choices))
    low, high = spec.get("low"), spec.get("high")
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (low, high)):
        raise InputError(f"{key}: a range needs numbers low and high (or give choices)", path)
    assert low is not None and high is not None
    if low > high:
        raise InputError(f"{key}: low {low} is above high {high}", path)
    log_scale = bool(spec.get("log", False))
    if log_scale and low <= 0:
        raise InputError(f"{key}: a log range must start above zero, not at {low}", path)
    if log_scale and spec.get("step") is not None:
        raise InputError(f"{key}: a log range cannot have a step", path)
    return Param(table, name, low, high, log_scale, spec.get("step"), None)


@dataclass(frozen=True)
class Search:
    """What every trial shares: data, vectors, the fixed config and the caps on a trial."""

    train_file: Path
    dev_file: Path
    embeddings: str
    base_model: dict[str, Any]
    base_train: dict[str, Any]
    epochs_per_trial: int
    minutes_per_trial: float
    device: str = "cpu"
    scheme: str | None = None  # of the data files; detected when None


@contextlib.contextmanager
def _creation_lock(storage: str) -> Iterator[None]:
    """Held while a storage is opened: workers started together would race to create a new SQLite
    database's tables and its schema version row (one of them fails). Other databases: no lock."""
    prefix = "sqlite:///"
    if not storage.startswith(prefix):
        yield
        return
    import fcntl

    database = Path(storage[len(prefix) :])
    with open(database.with_name(database.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def make_study(
    storage: str,
    name: str,
    sampler: str,
    pruner: str | Any,
    seed: int | None,
    population: int = 8,
    generations: int = 10,
    spiral: float = 1.0,
) -> Any:
    """Create the study, or load it if the storage has it already (a rerun, or another worker).
    ``population``, ``generations`` and ``spiral`` are the WOA sampler's (:mod:`ner.training.woa`)."""
    optuna = import_optuna()

    def woa() -> Any:
        from ner.training.woa import woa_sampler

        return woa_sampler(seed, population, generations, spiral)

    samplers = {
        "tpe": lambda: optuna.samplers.TPESampler(seed=seed),
        "cmaes": lambda: optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False),
        "random": lambda: optuna.samplers.RandomSampler(seed=seed),
        "woa": woa,
    }
    if sampler not in samplers:
        raise InputError(f"unknown sampler {sampler!r} (expected {', '.join(SAMPLERS)})")
    pruners = {
        "median": lambda: optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=2),
        "hyperband": lambda: optuna.pruners.HyperbandPruner(min_resource=2),
        "none": lambda: optuna.pruners.NopPruner(),
    }
    if isinstance(pruner, str):
        if pruner not in pruners:
            raise InputError(f"unknown pruner {pruner!r} (expected {', '.join(PRUNERS)})")
        pruner = pruners[pruner]()
    # A heartbeat marks the trials of a killed worker as failed, so they do not count as running for ever.
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter(
            "ignore", optuna.exceptions.ExperimentalWarning
        )  # heartbeats are "experimental"
        with _creation_lock(storage):
            rdb = optuna.storages.RDBStorage(storage, heartbeat_interval=30, grace_period=120)
    return optuna.create_study(
        storage=rdb,
        study_name=name,
        direction="maximize",
        sampler=samplers[sampler](),
        pruner=pruner,
        load_if_exists=True,
    )


def run_search(
    study: Any, search: Search, space: list[Param], trials: int, timeout_minutes: float | None
) -> None:
    """Run trials until the study holds ``trials`` (complete, pruned, failed or running in another
    process), or the timeout passes. Other processes may be adding to the same study meanwhile."""
    optuna = import_optuna()
    from ner.runtime import resolve_device
    from ner.text.conll import read_conll
    from ner.training.embeddings import load_vectors

    train_data = read_conll(search.train_file, search.scheme)  # type: ignore[arg-type]
    dev_data = read_conll(search.dev_file, train_data.scheme)
    vectors = load_vectors(search.embeddings)
    device = resolve_device(search.device)
    # Trials running in other processes count too, so that workers sharing the study stop at the asked
    # number between them (a trial killed without a chance to say so is failed by the heartbeat).
    held = len(study.get_trials(deepcopy=False))
    if held >= trials:
        log.info("the study already holds %d trials", held)
        return

    if held == 0:  # a new study: its first trial is the starting recipe, the baseline to beat
        start = starting_values(search, space)
        if start:
            study.enqueue_trial(start, user_attrs={"baseline": True})

    # Between trials a signal becomes a flag, read before each trial and after it: raised as an
    # exception there, it could land in Optuna's clean-up (a weakref callback, which drops it). During a
    # trial, training's own handler stops it after the current batch.
    with stop_on_signals() as caught:

        def objective(trial: Any) -> float:
            if caught:
                raise KeyboardInterrupt
            return _trial(trial, search, space, train_data, dev_data, vectors, device)

        def stop_if_signalled(study: Any, _trial: Any) -> None:
            if caught:
                study.stop()

        study.optimize(
            objective,
            timeout=None if not timeout_minutes else 60 * timeout_minutes,
            catch=(Exception,),
            callbacks=[optuna.study.MaxTrialsCallback(trials, states=None), stop_if_signalled],
            gc_after_trial=True,
        )
    if caught:
        raise KeyboardInterrupt


def starting_values(search: Search, space: list[Param]) -> dict[str, Any]:
    """The searched settings as the fixed config (or the defaults) has them, where the space holds them."""
    from dataclasses import asdict

    from ner.training.config import TrainConfig

    defaults = {
        "model": {**asdict(ModelConfig()), **search.base_model},
        "train": {**asdict(TrainConfig()), **search.base_train},
    }
    start = {}
    for p in space:
        value = defaults[p.table].get(p.name)
        inside = (
            value in p.choices
            if p.choices is not None
            else (
                isinstance(value, int | float)
                and p.low is not None
                and p.high is not None
                and p.low <= value <= p.high
            )
        )
        if inside:
            start[p.key] = value
    return start if len(start) == len(space) else {}


def _trial(
    trial: Any, search: Search, space: list[Param], train_data: Any, dev_data: Any, vectors: Any, device: Any
) -> float:
    optuna = import_optuna()
    from ner.training.config import TrainConfig
    from ner.training.train import EpochRecord, Interrupted, train

    model_cfg = dict(search.base_model)
    train_cfg = dict(search.base_train)
    for param in space:
        (model_cfg if param.table == "model" else train_cfg)[param.name] = param.suggest(trial)
    train_cfg.update(epochs=search.epochs_per_trial, max_minutes=search.minutes_per_trial)
    train_cfg["patience"] = min(int(train_cfg.get("patience", 8)), search.epochs_per_trial)
    try:
        cfg = TrainConfig(**train_cfg)
        ModelConfig(**model_cfg)
    except (TypeError, ValueError) as exc:  # a sampled combination the model refuses
        raise optuna.TrialPruned(f"settings refused: {exc}") from None

    class Report:
        """Dev F1 to Optuna after each epoch; a pruned trial stops here."""

        def __init__(self) -> None:
            self.curve: list[float] = []

        def start_epoch(self, epoch: int, batches: int) -> None:
            pass

        def batch(self, loss: float) -> None:
            pass

        def end_epoch(self, record: EpochRecord, best: bool) -> None:
            f1 = float(record.dev["overall"]["f1"])
            log.info(
                "trial %d, epoch %d: dev F1 %.2f (%.0f s)", trial.number, record.epoch, f1, record.seconds
            )
            self.curve.append(f1)
            trial.set_user_attr("curve", list(self.curve))
            trial.report(f1, record.epoch)
            if trial.should_prune():
                raise optuna.TrialPruned(f"dev F1 {f1:.2f} after epoch {record.epoch}")

    with tempfile.TemporaryDirectory(prefix="ner-tune-") as tmp:
        try:
            history = train(
                model_cfg, cfg, train_data, dev_data, vectors, Path(tmp) / "trial.pt", device, Report()
            )
        except Interrupted:  # Ctrl-C or SIGTERM: Optuna records the trial as failed and stops
            raise KeyboardInterrupt from None
    trial.set_user_attr("best_epoch", history.best_epoch)
    log.info(
        "trial %d: dev F1 %.2f (epoch %d) with %s",
        trial.number,
        history.best_f1,
        history.best_epoch,
        trial.params,
    )
    return float(history.best_f1)


def import_optuna() -> Any:
    try:
        import optuna
    except ImportError:
        raise InputError("ner tune needs Optuna: pip install 'ner-service[tune]'") from None
    return optuna


def best_config(study: Any, search: Search) -> str:
    """The best trial's full config as TOML that ``ner train --config`` takes as it is."""
    best = study.best_trial
    model_cfg = dict(search.base_model)
    train_cfg = {k: v for k, v in search.base_train.items() if k not in ("max_minutes",)}
    for key, value in best.params.items():
        table, name = key.split(".", 1)
        (model_cfg if table == "model" else train_cfg)[name] = value
    from ner.training.config import TrainConfig

    train_cfg["epochs"] = max(int(train_cfg.get("epochs", TrainConfig.epochs)), search.epochs_per_trial)
    lines = [
        f"# ner tune: trial {best.number} of study {study.study_name!r}, dev F1 {best.value:.2f}"
        f" (best at epoch {best.user_attrs.get('best_epoch')} of at most {search.epochs_per_trial})",
        f'embeddings = "{search.embeddings}"',
        "",
        "[model]",
        *(f"{k} = {_toml(v)}" for k, v in model_cfg.items()),
        "",
        "[train]",
        *(f"{k} = {_toml(v)}" for k, v in train_cfg.items()),
    ]
    return "\n".join(lines) + "\n"


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else '"nan"'
    return str(value)


def leaderboard(study: Any, top: int | None = None) -> list[dict[str, Any]]:
    """Every trial as a row: number, state, value, epochs run, minutes and params, best first."""
    rows = []
    for t in study.get_trials(deepcopy=False):
        minutes = (
            (t.datetime_complete - t.datetime_start).total_seconds() / 60 if t.datetime_complete else None
        )
        rows.append(
            {
                "number": t.number,
                "state": t.state.name,
                "dev_f1": t.value,
                "epochs": len(t.intermediate_values),
                "minutes": None if minutes is None else round(minutes, 2),
                **{k: v for k, v in sorted(t.params.items())},
            }
        )
    rows.sort(key=lambda r: (r["dev_f1"] is None, -(r["dev_f1"] or 0.0), r["number"]))
    return rows[:top] if top else rows


def write_outputs(study: Any, search: Search, out: Path) -> list[Path]:
    """``best.toml``, ``trials.csv`` and the plots (when matplotlib is there) in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    rows = leaderboard(study)
    columns = list(dict.fromkeys(k for r in rows for k in r))
    csv_path = out / "trials.csv"
    with csv_path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    written.append(csv_path)
    complete = [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
    if not complete:
        log.warning("no trial completed: no best config, no plots")
        return written
    best_path = out / "best.toml"
    best_path.write_text(best_config(study, search), encoding="utf-8")
    written.append(best_path)
    written.extend(_plots(study, out))
    return written


def _plots(study: Any, out: Path) -> list[Path]:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log.info("matplotlib not installed (pip install 'ner-service[train]'): no plots")
        return []
    import warnings

    import optuna.visualization.matplotlib as vis
    from optuna.exceptions import ExperimentalWarning

    warnings.filterwarnings("ignore", category=ExperimentalWarning)  # the plots are "experimental"
    written = []
    for name, draw in (
        ("history", vis.plot_optimization_history),
        ("importances", vis.plot_param_importances),
    ):
        path = out / f"{name}.png"
        try:
            axes = draw(study)
        except (ValueError, RuntimeError) as exc:  # importances need two complete trials, say
            log.info("no %s plot: %s", name, exc)
            continue
        figure: Any = axes.figure
        figure.tight_layout()
        figure.savefig(path, dpi=100)
        plt.close(figure)
        written.append(path)
    best = study.best_trial
    curve = best.user_attrs.get("curve") or [
        best.intermediate_values[k] for k in sorted(best.intermediate_values)
    ]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(range(1, len(curve) + 1), curve, "o-")
    ax.set_xlabel("epoch")
    ax.set_ylabel("dev entity F1 (%)")
    ax.set_title(f"best trial ({best.number}): learning curve")
    fig.tight_layout()
    path = out / "best_curve.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    written.append(path)
    return written


def default_space() -> Path:
    """The space shipped with the package."""
    return Path(__file__).resolve().parent / "tune_space.toml"
