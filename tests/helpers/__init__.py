"""Shared test helpers: tiny data and specs (``specs``), tiny Keras models (``models``) and
the serialization harness for custom Keras objects (``serialization``).

``specs`` imports no Keras, so spec and CLI-parser tests stay light; import ``models`` and
``serialization`` only from tests that use Keras anyway.
"""
