"""The shared number formatters (one of each for the CLI, the engine's messages and the window)."""

from ftstudio.formatting import format_bytes, format_duration, format_params


def test_format_bytes_uses_decimal_units():
    assert [format_bytes(n) for n in (512, 24_700, 1_500_000, 1_385_679_860)] == \
        ["512 bytes", "24.7 KB", "1.5 MB", "1.4 GB"]
    assert format_bytes(None) == "—"


def test_format_params_and_duration():
    assert format_params(22_713_216) == "22.7M" and format_params("x") == "?"
    assert format_duration(-3) == "0:00" and format_duration(float("inf")) == "—"
