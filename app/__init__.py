"""The HTTP service around :class:`ner.tagger.Tagger`."""
