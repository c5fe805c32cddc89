"""Named-entity recognition with a BiLSTM-CNN-CRF."""

__version__ = "0.1.0"
