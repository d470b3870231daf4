#!/usr/bin/env bash
# Build, sign and notarise the macOS app and its disk image (on a Mac, from the checkout's root):
#
#   bash packaging/macos/build.sh                      unsigned: dist/ftstudio.app and a .dmg
#   SIGN_ID="Developer ID Application: NAME (TEAMID)" NOTARY_PROFILE=ftstudio-notary \
#     bash packaging/macos/build.sh                    signed, notarised and stapled
#
# NOTARY_PROFILE is a keychain profile made once with
#   xcrun notarytool store-credentials ftstudio-notary --apple-id ID --team-id TEAMID
# Apple silicon (arm64) builds run on Apple silicon only; build on an Intel Mac for x86_64.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
VENV=build/package-venv-macos
VERSION=$(sed -n 's/^__version__ = "\(.*\)"/\1/p' ftstudio/__init__.py)
DMG=dist/ftstudio-$VERSION-macos-$(uname -m).dmg

if [ ! -x "$VENV/bin/python" ]; then
  python3.11 -m venv "$VENV"
  # tensorflow (macOS wheels are CPU builds; tensorflow-metal adds the Apple GPU: README.md)
  sed 's/^tensorflow-cpu==/tensorflow==/' packaging/requirements-cpu.txt > build/requirements-macos.txt
  "$VENV/bin/python" -m pip install -r build/requirements-macos.txt
  "$VENV/bin/python" -m pip install --no-deps -r packaging/requirements-nodeps.txt
fi
"$VENV/bin/python" -m PyInstaller --noconfirm --distpath dist --workpath build/pyinstaller-macos \
  packaging/ftstudio.spec
dist/ftstudio.app/Contents/MacOS/ftstudio --self-test

if [ -n "${SIGN_ID:-}" ]; then
  # inside out: every library and extension first, then the app with the hardened runtime
  find dist/ftstudio.app/Contents -type f \( -name '*.so' -o -name '*.dylib' -o -perm -u+x \) \
    -exec codesign --force --timestamp --options runtime --sign "$SIGN_ID" {} +
  codesign --force --timestamp --options runtime \
    --entitlements packaging/macos/entitlements.plist --sign "$SIGN_ID" dist/ftstudio.app
  codesign --verify --strict --verbose=2 dist/ftstudio.app
fi

rm -f "$DMG"
hdiutil create -volname "Fine-Tuning Studio" -srcfolder dist/ftstudio.app -ov -format UDZO "$DMG"

if [ -n "${SIGN_ID:-}" ] && [ -n "${NOTARY_PROFILE:-}" ]; then
  codesign --force --timestamp --sign "$SIGN_ID" "$DMG"
  xcrun notarytool submit "$DMG" --keychain-profile "$NOTARY_PROFILE" --wait
  xcrun stapler staple "$DMG"
  spctl --assess --type open --context context:primary-signature --verbose "$DMG"
fi
echo "built $DMG"
