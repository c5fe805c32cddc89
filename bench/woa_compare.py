"""WOA against TPE, CMA-ES and random search on synthetic functions, on equal budgets and seeds.

    python bench/woa_compare.py --trials 100 --seeds 10

Each function is minimised (reported as the best value found, lower is better; every minimum is 0):
sphere and Rastrigin in 6 dimensions on [-5.12, 5.12], Rosenbrock in 4 on [-2, 2], and a mixed space
shaped like ner tune's (a float, a log-scaled float, a stepped integer and a categorical choice).
"""

from __future__ import annotations

import argparse
import math
import statistics
from collections.abc import Callable
from itertools import pairwise

import optuna

from ner.training.woa import woa_sampler

optuna.logging.set_verbosity(optuna.logging.WARNING)


def sphere(trial: optuna.Trial) -> float:
    return sum(trial.suggest_float(f"x{i}", -5.12, 5.12) ** 2 for i in range(6))


def rastrigin(trial: optuna.Trial) -> float:
    xs = [trial.suggest_float(f"x{i}", -5.12, 5.12) for i in range(6)]
    return 10 * len(xs) + sum(x * x - 10 * math.cos(2 * math.pi * x) for x in xs)


def rosenbrock(trial: optuna.Trial) -> float:
    xs = [trial.suggest_float(f"x{i}", -2.0, 2.0) for i in range(4)]
    return sum(100 * (b - a * a) ** 2 + (1 - a) ** 2 for a, b in pairwise(xs))


def mixed(trial: optuna.Trial) -> float:
    x = trial.suggest_float("dropout", 0.0, 0.8)
    lr = trial.suggest_float("lr", 1e-4, 1e-1, log=True)
    hidden = trial.suggest_int("hidden", 32, 512, step=32)
    cell = trial.suggest_categorical("cell", ["lstm", "gru"])
    return (x - 0.5) ** 2 * 10 + (math.log10(lr) + 2.5) ** 2 + ((hidden - 256) / 128) ** 2 + (cell != "lstm")


FUNCTIONS: dict[str, Callable[[optuna.Trial], float]] = {
    "sphere-6": sphere, "rastrigin-6": rastrigin, "rosenbrock-4": rosenbrock, "mixed-4": mixed,
}  # fmt: skip
SAMPLERS: dict[str, Callable[[int], optuna.samplers.BaseSampler]] = {
    "woa": lambda seed: woa_sampler(seed),
    "tpe": lambda seed: optuna.samplers.TPESampler(seed=seed),
    "cmaes": lambda seed: optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False),
    "random": lambda seed: optuna.samplers.RandomSampler(seed=seed),
}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--seeds", type=int, default=10)
    args = parser.parse_args()
    print(f"best value after {args.trials} trials, mean ± sd over {args.seeds} seeds (lower is better)")
    print("function      " + "  ".join(f"{s:>16}" for s in SAMPLERS))
    for fname, function in FUNCTIONS.items():
        cells = []
        for make in SAMPLERS.values():
            best = []
            for seed in range(args.seeds):
                study = optuna.create_study(direction="minimize", sampler=make(seed))
                study.optimize(function, n_trials=args.trials)
                best.append(study.best_value)
            cells.append(f"{statistics.mean(best):>8.3f} ± {statistics.stdev(best):<5.3f}")
        print(f"{fname:<13} " + "  ".join(f"{c:>16}" for c in cells), flush=True)


if __name__ == "__main__":
    main()
