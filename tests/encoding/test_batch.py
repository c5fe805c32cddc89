import torch

from ner.encoding.batch import collate
from ner.encoding.encode import Encoder
from ner.encoding.vocab import Vocab, WordVocab


def test_collate_builds_right_padded_bool_mask() -> None:
    enc = Encoder(WordVocab(["paris", "is", "nice"]), Vocab(list("Parisnce")), Vocab(["O"], specials=False))
    batch = collate([enc.encode(["Paris", "is"]), enc.encode(["nice"])])
    assert batch.mask.dtype == torch.bool
    assert batch.mask.tolist() == [[True, True], [True, False]]
    assert batch.tags is None
    assert batch.chars.shape == (4, 5)  # padding row + three distinct spellings
    assert batch.char_index.tolist() == [[1, 2], [3, 0]]


def test_block_batches_keep_blocks_whole_and_cover_every_sentence() -> None:
    import numpy as np

    from ner.encoding.batch import block_batches

    blocks = [[0, 1, 2], [3], [4, 5, 6, 7, 8], [9, 10]]
    batches = list(block_batches(blocks, 4, np.random.default_rng(0)))
    assert sorted(i for b in batches for i in b) == list(range(11))
    for batch in batches:
        assert len(batch) <= 4 or batch == [4, 5, 6, 7, 8]  # a bigger block makes a batch of its own
        for block in blocks:
            assert set(block) <= set(batch) or not set(block) & set(batch)
