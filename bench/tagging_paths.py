"""The two ways each of two parts of the bundled model can run at tagging time, timed side by side.

    python bench/tagging_paths.py [--dev valid.txt] [--threads 1]

The character CNN runs as a convolution (training) or as table lookups (tagging on the CPU), and the
BiLSTM packed or unpacked: ``BiLstmCrf`` runs it unpacked at tagging time when a batch is at least
``MOSTLY_FULL`` tokens or has at most ``FEW_SENTENCES`` sentences (``ner/model/network.py``). This prints the
median milliseconds of both LSTM paths on random inputs of ten shapes, so the two thresholds can be
checked on another machine; with ``--dev``, also both paths of each part summed over the file's
sentences sorted by length in batches of 256, as ``Tagger.predict`` batches them.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from ner.encoding.batch import Batch
from ner.inference.tagger import Tagger
from ner.model.network import BiLstmCrf
from ner.text.conll import read_conll

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


def over_file(tagger: Tagger, dev: Path) -> None:
    """Both paths of the char CNN and of the LSTM over ``dev`` in length-sorted batches of 256."""
    model = tagger.backend.model
    sentences = sorted((s.tokens for s in read_conll(dev).sentences), key=len)
    batches = [Batch.of(tagger.encoder.arrays(sentences[i : i + 256])) for i in range(0, len(sentences), 256)]
    cnn = model.char_cnn

    def char_cnn_ms(training: bool) -> float:
        cnn.train(training)
        return sum(median_ms(partial(cnn, batch.chars), 9) for batch in batches)

    with torch.inference_mode():
        convolution, lookups = char_cnn_ms(True), char_cnn_ms(False)
        inputs = [(model.features(b), b.lengths) for b in batches]  # (batch, seq, features), lengths
    packed = unpacked = as_tagged = 0.0
    chosen = 0
    for x, lengths in inputs:
        one, other = time_paths(model, x, lengths)
        packed, unpacked = packed + one, unpacked + other
        if model._unpacked_is_faster(x, lengths):
            chosen, as_tagged = chosen + 1, as_tagged + other
        else:
            as_tagged += one
    print(f"{dev.name}, {len(batches)} batches of up to 256 sentences, medians summed:")
    print(f"  char CNN: convolution {convolution:.1f} ms, lookups {lookups:.1f} ms")
    print(
        f"  LSTM: all packed {packed:.1f} ms, all unpacked {unpacked:.1f} ms, "
        f"as tagging picks ({chosen} of {len(batches)} unpacked) {as_tagged:.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "conll03-en.pt")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--dev", type=Path, help="also time both paths over this CoNLL file")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    tagger = Tagger.load(args.model, "cpu")
    model = tagger.backend.model.eval()
    if args.dev:
        over_file(tagger, args.dev)
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
