"""The fine-tuning engine: Keras, TensorFlow, pandas, scikit-learn. Never Qt.

Submodules import TensorFlow lazily; importing this package is cheap.
"""
