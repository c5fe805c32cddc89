"""Inference: one :class:`~ner.inference.tagger.Tagger` over a backend (PyTorch or numpy), entities with
character offsets, the text pipeline every entry point shares, calibration.

Imports the layers below it (model, encoding, text, runtime) only."""
