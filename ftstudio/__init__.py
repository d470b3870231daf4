"""ftstudio: fine-tune pretrained models on your own data, offline.

Importing this package must stay cheap: it never imports TensorFlow, Keras or Qt.
"""

__version__ = "0.1.0"
