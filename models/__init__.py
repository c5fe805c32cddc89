"""The bundled default model; installed as ``ner._models`` so it is found however ner is installed."""
