"""The bundled model's BiLSTM packed and unpacked, for batches of several sizes and fills.

    python bench/lstm_paths.py [--threads 1]

``BiLstmCrf`` runs the LSTM unpacked at tagging time when a batch is at least ``MOSTLY_FULL`` tokens
or has at most ``FEW_SENTENCES`` sentences (``ner/model.py``); this prints the median milliseconds of
each path on random inputs, so the two thresholds can be checked on another machine.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from ner.model import BiLstmCrf
from ner.tagger import Tagger

ROOT = Path(__file__).resolve().parent.parent
SHAPES = [(2, 5, 40), (4, 2, 50), (8, 2, 40), (8, 10, 40), (12, 2, 40), (12, 10, 40), (32, 10, 40),
          (32, 20, 36), (256, 5, 60), (256, 28, 32)]  # (sentences, shortest, longest)  # fmt: skip


def median_ms(run: Callable[[], object], calls: int = 40) -> float:
    for _ in range(5):
        run()
    walls = []
    for _ in range(calls):
        t = time.perf_counter()
        run()
        walls.append(time.perf_counter() - t)
    return 1000 * statistics.median(walls)


def time_paths(model: BiLstmCrf, x: torch.Tensor, lengths: torch.Tensor) -> tuple[float, float]:
    """Median milliseconds of the packed and the unpacked BiLSTM over ``x`` (batch, seq, features)."""

    def packed() -> torch.Tensor:
        out, _ = model.rnn(pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False))
        return pad_packed_sequence(out, batch_first=True)[0]

    with torch.inference_mode():
        return median_ms(packed), median_ms(lambda: model._directions_unpacked(x, lengths))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "conll03-en.pt")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = Tagger.load(args.model, "cpu").model.eval()
    generator = torch.Generator().manual_seed(0)
    print("sentences  lengths  fill  packed ms  unpacked ms")
    for size, shortest, longest in SHAPES:
        lengths = torch.randint(shortest, longest + 1, (size,), generator=generator)
        lengths[0] = longest
        x = torch.randn(size, longest, model.rnn.input_size, generator=generator)
        fill = int(lengths.sum()) / (size * longest)

        a, b = time_paths(model, x, lengths)
        print(f"{size:9d}  {shortest:3d}-{longest:<3d}  {fill:.2f}  {a:9.2f}  {b:11.2f}")


if __name__ == "__main__":
    main()
