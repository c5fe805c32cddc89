"""Text: tokenising raw text, its model forms, tag schemes, CoNLL files, scoring, result types.

Imports nothing of the project above :mod:`ner.runtime`; no numpy, no torch."""
