"""The HTTP service around :class:`ner.inference.tagger.Tagger`."""
