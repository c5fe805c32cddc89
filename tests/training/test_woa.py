"""The whale optimisation algorithm as an Optuna sampler (:mod:`ner.training.woa`), on cheap
synthetic objectives."""

import math
from pathlib import Path

import pytest

optuna = pytest.importorskip("optuna")

from ner.training.tune import make_study  # noqa: E402
from ner.training.woa import WhaleSampler, _decode, _encode, woa_sampler  # noqa: E402

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _mixed(trial: "optuna.Trial") -> float:
    """A bowl over a float, a log-scaled float, a stepped integer and a choice; best 0."""
    x = trial.suggest_float("x", -5.0, 5.0)
    lr = trial.suggest_float("lr", 1e-4, 1e-1, log=True)
    hidden = trial.suggest_int("hidden", 32, 256, step=32)
    cell = trial.suggest_categorical("cell", ["lstm", "gru", "rnn"])
    return -((x - 1.3) ** 2 + (math.log10(lr) + 2.5) ** 2 + ((hidden - 160) / 64) ** 2 + (cell != "gru"))


def test_every_sampled_setting_is_a_legal_value() -> None:
    study = optuna.create_study(direction="maximize", sampler=woa_sampler(seed=3, population=5))
    study.optimize(_mixed, n_trials=40)
    for trial in study.trials:
        p = trial.params
        assert -5.0 <= p["x"] <= 5.0 and 1e-4 <= p["lr"] <= 1e-1
        assert p["hidden"] in range(32, 257, 32) and isinstance(p["hidden"], int)
        assert p["cell"] in ("lstm", "gru", "rnn")


def test_positions_map_onto_the_unit_cube_and_back() -> None:
    dists = optuna.distributions
    log = dists.FloatDistribution(1e-4, 1e-1, log=True)
    assert _encode(1e-4, log) == 0.0 and _encode(1e-1, log) == 1.0
    assert _decode(_encode(3e-3, log), log) == pytest.approx(3e-3)
    stepped = dists.IntDistribution(32, 256, step=32)
    assert _decode(0.51, stepped) == 160 and _decode(1.0, stepped) == 256
    choice = dists.CategoricalDistribution(["a", "b", "c"])
    assert [_decode(_encode(c, choice), choice) for c in "abc"] == ["a", "b", "c"]
    assert _decode(0.0, choice) == "a" and _decode(1.0, choice) == "c"


def test_the_swarm_improves_on_its_first_generation() -> None:
    for seed in range(3):
        study = optuna.create_study(direction="maximize", sampler=woa_sampler(seed=seed, population=8))
        study.optimize(_mixed, n_trials=80)
        first = max(t.value for t in study.trials[:8])
        assert study.best_value > first + 0.4  # the generations after the first find better settings


def test_an_interrupted_study_goes_on_as_one_run_would(tmp_path: Path) -> None:
    def run(path: Path, chunks: list[int]) -> list[dict[str, object]]:
        storage = f"sqlite:///{path}"
        for n in chunks:  # each chunk a new process's study and sampler, as ner tune reruns
            study = make_study(storage, "s", "woa", "none", 11, population=4, generations=5)
            study.optimize(_mixed, n_trials=n)
        return [t.params for t in study.trials]

    assert run(tmp_path / "a.db", [24]) == run(tmp_path / "b.db", [10, 14])


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="population must be at least 2"):
        WhaleSampler(population=1)
    with pytest.raises(ValueError, match="generations must be at least 1"):
        WhaleSampler(generations=0)


@pytest.mark.parametrize("sampler", ["tpe", "cmaes", "random", "woa"])
def test_every_sampler_of_ner_tune_runs(sampler: str, tmp_path: Path) -> None:
    """Each sampler's own dependencies are in the tune extra (CMA-ES needs the cmaes package)."""
    study = make_study(f"sqlite:///{tmp_path / 's.db'}", "s", sampler, "none", 0, population=2)
    study.optimize(lambda t: -((t.suggest_float("x", -1.0, 1.0) - 0.2) ** 2), n_trials=6)
    assert len(study.trials) == 6 and all(t.state.name == "COMPLETE" for t in study.trials)
