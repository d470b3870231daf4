"""The offline model library: pretrained backbones kept in a local folder the user controls.

Every backbone an analyst fine-tunes lives here, so nothing needs the network once it is
imported. An entry is a folder ``<library>/<name>/`` holding ``entry.json`` (what it is: name,
modality, input shape, parameter count, source, licence text, the sha256 of every file) and
its payload: ``backbone.keras`` (a Keras model file holding exactly the backbone) or
``preset/`` (a keras-hub preset or a Hugging Face folder that keras-hub converts on load).

Imports are atomic (built in a temporary folder inside the library, then ``os.replace``) and
treat every model file as untrusted input: Keras ``safe_mode`` stays on (Lambda layers are
refused), pickles are never loaded, and a file that is not what its extension says is
rejected before any loader sees it. Only :func:`download_preset` and
:func:`download_applications` use the network, and only when called.

Modules: :mod:`.store` (entries, lookup, commits, hashing, verify), :mod:`.safety` (what a
path is, pickle refusal), :mod:`.licences`, :mod:`.keras_entries` (saving a Keras model as an
entry), :mod:`.importers` (import kinds), :mod:`.folders` (keras-hub / Hugging Face folders),
:mod:`.applications` (keras.applications weights), :mod:`.defaults` (bundled backbones),
:mod:`.downloads` (network). TensorFlow, Keras and keras-hub are imported inside the functions
that need them.

Example:
    >>> entry = import_path("dog_breed_mobilenetv2.h5", submodel="mobilenetv2_1.00_160")
    >>> resolve_entry(entry.name).path  # doctest: +SKIP
    '/home/me/.local/share/ftstudio/library/dog_breed_mobilenetv2/backbone.keras'
"""

from __future__ import annotations

from ftstudio.config import ftstudio_home
from ftstudio.engine.library.applications import (
    applications_preprocessing,
    match_applications_weights,
)
from ftstudio.engine.library.defaults import (
    DEFAULT_IMAGE_ENTRY,
    DEFAULT_TEXT_ENTRY,
    default_sources,
    install_defaults,
)
from ftstudio.engine.library.downloads import (
    NETWORK_NOTICE,
    download_applications,
    download_file,
    download_preset,
)
from ftstudio.engine.library.folders import HF_IMAGE_TYPES, HF_TEXT_TYPES, TIMM_PREFIXES
from ftstudio.engine.library.importers import import_path, inspect_path
from ftstudio.engine.library.keras_entries import save_model_entry, select_backbone
from ftstudio.engine.library.safety import detect_kind
from ftstudio.engine.library.store import (
    BACKBONE_FILE,
    ENTRY_FILE,
    ENTRY_VERSION,
    PRESET_DIR,
    LibraryEntry,
    VerifyReport,
    check_name,
    ensure_free,
    get_entry,
    library_root,
    list_entries,
    remove,
    resolve_entry,
    sha256_file,
    suggest_name,
    verify,
)
from ftstudio.engine.model_files import load_model_safely
from ftstudio.errors import LibraryError

__all__ = [
    "BACKBONE_FILE", "DEFAULT_IMAGE_ENTRY", "DEFAULT_TEXT_ENTRY", "ENTRY_FILE",
    "ENTRY_VERSION", "HF_IMAGE_TYPES", "HF_TEXT_TYPES", "NETWORK_NOTICE", "PRESET_DIR",
    "TIMM_PREFIXES", "LibraryEntry", "LibraryError", "VerifyReport", "applications_preprocessing",
    "check_name", "default_sources", "detect_kind", "download_applications", "download_file",
    "download_preset", "ensure_free", "ftstudio_home", "get_entry", "import_path",
    "inspect_path", "install_defaults", "library_root", "list_entries", "load_model_safely",
    "match_applications_weights", "remove", "resolve_entry", "save_model_entry",
    "select_backbone", "sha256_file", "suggest_name", "verify",
]
