"""Training: configs (loading, merging, validating), the training loop, word vectors, distillation,
hyper-parameter search.

Imports inference and the layers below it; never :mod:`ner.corpus` or the command line."""
