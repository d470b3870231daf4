#!/usr/bin/env bash
# Build the Linux one-folder bundle and its tarball from this checkout (`make package`).
#
#   VARIANT=cpu (default) | gpu   which TensorFlow goes in (packaging/README.md, "GPU variant")
#   PYTHON=python3.11              the interpreter the build environment is made from
#
# The build environment (build/package-venv[-gpu]) is made on the first run from
# packaging/requirements-*.txt and reused while those files stay the same. Output:
#   dist/ftstudio/                                  the bundle (run dist/ftstudio/ftstudio)
#   dist/ftstudio-VERSION-linux-x86_64[-gpu].tar.zst  the same folder, compressed
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HERE=$ROOT/packaging
VARIANT=${VARIANT:-cpu}
PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
case $VARIANT in
  cpu) VENV=$ROOT/build/package-venv; SUFFIX= ;;
  gpu) VENV=$ROOT/build/package-venv-gpu; SUFFIX=-gpu ;;
  *) echo "VARIANT must be cpu or gpu, not '$VARIANT'" >&2; exit 2 ;;
esac
REQUIREMENTS=$HERE/requirements-$VARIANT.txt
NODEPS=$HERE/requirements-nodeps.txt
DIST=$ROOT/dist
BUNDLE=$DIST/ftstudio
VERSION=$(sed -n 's/^__version__ = "\(.*\)"/\1/p' "$ROOT/ftstudio/__init__.py")
TARBALL=$DIST/ftstudio-$VERSION-linux-$(uname -m)$SUFFIX.tar.zst
started=$(date +%s)

# 1. the build environment: TensorFlow (CPU or CUDA), then the packages that would pull the
#    other TensorFlow distribution in, without their dependencies
stamp=$VENV/.requirements-$(cat "$REQUIREMENTS" "$NODEPS" | sha256sum | cut -c1-16)
if [ ! -f "$stamp" ]; then
  echo "== build environment $VENV"
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --disable-pip-version-check -q -r "$REQUIREMENTS"
  "$VENV/bin/python" -m pip install --disable-pip-version-check -q --no-deps -r "$NODEPS"
  touch "$stamp"
fi

# 2. the bundle (TensorFlow is imported while analysing: keep its C++ start-up lines out)
export TF_CPP_MIN_LOG_LEVEL=3
echo "== PyInstaller ($VARIANT)"
rm -rf "$BUNDLE"
(cd "$ROOT" && "$VENV/bin/python" -m PyInstaller --noconfirm --log-level WARN \
  --distpath "$DIST" --workpath "$ROOT/build/pyinstaller-$VARIANT" "$HERE/ftstudio.spec")

# 3. smaller: strip TensorFlow's and tensorflow-text's own libraries (bundle_rules.py says why
#    not everything)
before=$(du -sm "$BUNDLE" | cut -f1)
"$VENV/bin/python" -c "import sys; sys.path.insert(0, sys.argv[1]); import bundle_rules as r; \
from pathlib import Path; print('\n'.join(map(str, r.strip_candidates(Path(sys.argv[2])))))" \
  "$HERE" "$BUNDLE/_internal" | xargs -r -d '\n' strip --strip-unneeded
after=$(du -sm "$BUNDLE" | cut -f1)
echo "   stripped TensorFlow's libraries: ${before} MB -> ${after} MB"

# 4. the Linux installer files, beside the executable
install -m 755 "$HERE/linux/install.sh" "$BUNDLE/install.sh"
install -D -m 644 "$HERE/linux/ftstudio.desktop" "$BUNDLE/share/applications/ftstudio.desktop"
install -D -m 644 "$ROOT/resources/icons/app.svg" \
  "$BUNDLE/share/icons/hicolor/scalable/apps/ftstudio.svg"
install -D -m 644 "$ROOT/resources/icons/app.png" \
  "$BUNDLE/share/icons/hicolor/512x512/apps/ftstudio.png"

# 5. the tarball (zstd --long: TensorFlow's libraries repeat a lot over long distances)
echo "== $TARBALL"
rm -f "$TARBALL"
tar -C "$DIST" -cf - ftstudio | zstd -q -9 --long=27 -T0 -o "$TARBALL"

unpacked=$(du -sb "$BUNDLE" | cut -f1)
packed=$(stat -c %s "$TARBALL")
echo "== done in $(( $(date +%s) - started )) s: bundle $(( unpacked / 1000000 )) MB unpacked" \
     "($BUNDLE), $(( packed / 1000000 )) MB compressed ($TARBALL)"
