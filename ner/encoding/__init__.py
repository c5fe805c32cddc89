"""Encoding: vocabularies, tokens to padded index arrays (numpy), torch batches, reading plans and
the one packer.

Imports :mod:`ner.text` and :mod:`ner.runtime` only."""
