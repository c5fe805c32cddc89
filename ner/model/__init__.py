"""The model: hyper-parameters, the PyTorch network (the reference and what trains), its numpy
twin, shared numpy kernels, the CRF and the checkpoint format.

Imports :mod:`ner.encoding`, :mod:`ner.text` and :mod:`ner.runtime` only."""
