"""The ``README.txt`` of each export folder, and the tokenizer settings of text exports.

A README says what the folder holds, what to install, what the inputs are, and gives a short
script that loads the file and predicts (run from inside the folder). Standard library only.
"""

from __future__ import annotations

from typing import Any

from ftstudio.spec import ExperimentSpec

_NEEDS = {
    "keras": "pip install keras{hub}   (Keras 3; nothing of ftstudio)",
    "savedmodel": "pip install tensorflow{text}   (nothing of ftstudio, no Keras code)",
    "tflite": "pip install ai-edge-litert numpy{hub}   (or tf.lite.Interpreter from TensorFlow)",
    "onnx": "pip install onnxruntime numpy{hub}",
}

_LOAD = {
    "keras": ("import sys\nimport keras\n{hub_import}"
              "sys.path.insert(0, \".\")\nimport ftstudio_layers  # noqa: F401  the model's "
              "own layer classes\nmodel = keras.saving.load_model(\"model.keras\")\n"),
    "savedmodel": ("import tensorflow as tf\n{text_import}"
                   "model = tf.saved_model.load(\"saved_model\")  # keep it: the weights "
                   "live on it\n"),
    "tflite": ("import numpy as np\nfrom ai_edge_litert.interpreter import Interpreter\n"
               "{hub_import}runner = Interpreter(model_path=\"{file}\").get_signature_runner()\n"),
    "onnx": ("import numpy as np\nimport onnxruntime\n{hub_import}"
             "session = onnxruntime.InferenceSession(\"model.onnx\")\n"),
}

_PREDICT = {
    "keras": "outputs = model.predict(x)  # {output name: array}\n",
    "savedmodel": "outputs = {k: v.numpy() for k, v in model.serve(x).items()}\n",
    "tflite": "outputs = runner(**x)\n",
    "onnx": ("names = [o.name for o in session.get_outputs()]\n"
             "outputs = dict(zip(names, session.run(names, x)))\n"),
}


def readme_text(fmt: str, spec: ExperimentSpec, inputs: dict[str, Any],
                files: list[str]) -> str:
    """The README of one export folder.

    Args:
        fmt: ``keras``, ``savedmodel``, ``tflite`` or ``onnx``.
        spec: the run's spec (modality, outputs, feature columns).
        inputs: input name -> ``(shape, dtype)`` of the exported model.
        files: the folder's files and folders, the artefact first.
    """
    modality = spec.modality
    text = modality == "text"
    hub = " keras-hub" if text else ""
    needs = _NEEDS[fmt].format(hub=hub, text=" tensorflow-text" if text else "")
    load = _LOAD[fmt].format(
        hub_import="import keras_hub\n" if text else "",
        text_import="import tensorflow_text  # noqa: F401  the tokenizer's ops\n" if text else "",
        file=files[0])
    code = ("import json\n" + load + "labels = json.load(open(\"labels.json\"))\n"
            + _example_input(fmt, spec, inputs) + _PREDICT[fmt]
            + "for name, values in outputs.items():\n"
              "    print(name, labels.get(name), values)\n")
    lines = [f"{_TITLES[fmt]} of the ftstudio run '{spec.name}' ({modality}).", "",
             "Files: " + ", ".join(files + ["README.txt", "export_report.json"]), "",
             f"Install: {needs}", "", "Inputs: " + _inputs_text(fmt, spec, inputs),
             "Outputs: a dict {output name: array}. Classification outputs hold class "
             "probabilities in the order of labels.json (one column = the probability of the "
             "second class); regression outputs hold the value.", "",
             "export_report.json holds the parity check: this file run on the run's test split "
             "in a fresh Python process, against the studio's own predictions.", "",
             "Example (run it inside this folder):", "", code]
    return "\n".join(lines)


_TITLES = {"keras": "Keras 3 model (.keras)", "savedmodel": "TensorFlow SavedModel",
           "tflite": "TFLite / LiteRT model", "onnx": "ONNX model"}


def _inputs_text(fmt: str, spec: ExperimentSpec, inputs: dict[str, Any]) -> str:
    shapes = ", ".join(f"{name} {dtype}{list(shape)}" for name, (shape, dtype) in inputs.items())
    if spec.modality == "text":
        if fmt == "savedmodel":
            return "raw strings (tf.string, shape [batch]); the tokenizer is inside."
        return (f"token ids ({shapes}) from the keras-hub preprocessor in preprocessor/ "
                f"(its vocabulary is preprocessor/assets/tokenizer/; every tokenizer setting is "
                f"in tokenizer_settings.json for tokenizing without Python).")
    if spec.modality == "image":
        if fmt == "savedmodel":
            return ("uint8 RGB images of any size (shape [batch, height, width, channels]); "
                    "resizing (bilinear) and pixel scaling are inside. The studio resizes "
                    "with Pillow's bilinear filter: resize to the model's size first for "
                    "exactly its numbers.")
        return (f"float32 pixels 0..255 ({shapes}), resized to the model's size; the pixel "
                f"scaling is inside the model.")
    columns = ", ".join(spec.data.feature_columns or [])
    return f"float32 features ({shapes}) in this column order: {columns}; scaling is inside."


def _example_input(fmt: str, spec: ExperimentSpec, inputs: dict[str, Any]) -> str:
    modality = spec.modality
    if modality == "text":
        if fmt == "savedmodel":
            return "x = tf.constant([\"a text to classify\"])\n"
        tokens = ("preprocessor = keras_hub.models.TextClassifierPreprocessor.from_preset("
                  "\"preprocessor\")\ntokens = preprocessor([\"a text to classify\"])\n")
        if fmt == "keras":
            return tokens + "x = tokens\n"
        return tokens + "x = {name: np.asarray(tokens[name]) for name in " + \
            repr(sorted(inputs)) + "}\n"
    if modality == "image":
        if fmt == "savedmodel":
            return ("x = tf.io.decode_image(tf.io.read_file(\"photo.jpg\"), channels=3, "
                    "expand_animations=False)[None]\n")
        shape = next(iter(inputs.values()))[0]
        height, width, channels = shape[1], shape[2], shape[3]
        mode = "RGB" if channels == 3 else "L"
        pixels = (f"from PIL import Image\nimport numpy as np\n"
                  f"img = Image.open(\"photo.jpg\").convert(\"{mode}\").resize(({width}, "
                  f"{height}), Image.BILINEAR)\n"
                  f"pixels = np.asarray(img, \"float32\").reshape(1, {height}, {width}, "
                  f"{channels})\n")
        return pixels + ("x = pixels\n" if fmt == "keras" else
                         f"x = {{\"{next(iter(inputs))}\": pixels}}\n")
    n = len(spec.data.feature_columns or []) or next(iter(inputs.values()))[0][-1]
    row = ", ".join(["0.0"] * int(n))
    if fmt == "savedmodel":
        return f"x = tf.constant([[{row}]], tf.float32)\n"
    features = f"import numpy as np\nfeatures = np.array([[{row}]], \"float32\")\n"
    return features + ("x = features\n" if fmt == "keras" else
                       f"x = {{\"{next(iter(inputs))}\": features}}\n")


_SPECIAL_TOKENS = ("cls_token_id", "sep_token_id", "pad_token_id", "mask_token_id",
                   "start_token_id", "end_token_id", "unk_token_id")


def tokenizer_settings(preprocessor: Any, inputs: dict[str, Any],
                       vocabulary_files: list[str]) -> dict[str, Any]:
    """Everything needed to reproduce a keras-hub text preprocessor's token ids elsewhere."""
    tokenizer = preprocessor.tokenizer
    config = {k: v for k, v in tokenizer.get_config().items()
              if k not in ("name", "trainable", "dtype", "config_file", "vocabulary")}
    specials = {name.removesuffix("_id"): int(getattr(tokenizer, name))
                for name in _SPECIAL_TOKENS if getattr(tokenizer, name, None) is not None}
    return {"preprocessor": type(preprocessor).__name__,
            "tokenizer": type(tokenizer).__name__,
            "sequence_length": getattr(preprocessor, "sequence_length", None),
            "truncate": getattr(preprocessor, "truncate", None),
            "tokenizer_settings": config, "special_token_ids": specials,
            "vocabulary_files": vocabulary_files,
            "inputs": {name: {"shape": list(shape), "dtype": dtype}
                       for name, (shape, dtype) in inputs.items()}}
