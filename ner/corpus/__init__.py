"""Corpus tagging: record formats, the chunked pipeline and its local engine, safe output files, Ray.

Imports inference and the layers below it; never :mod:`ner.training` or the command line."""
