#!/bin/sh
# Install the ftstudio bundle this script sits in, with a launcher and a desktop entry.
#
#   ./install.sh                 for you: ~/.local/opt/ftstudio, ~/.local/bin/ftstudio and
#                                ~/.local/share/applications (no root needed)
#   sudo ./install.sh --system   for everyone: /opt/ftstudio, /usr/local/bin/ftstudio and
#                                /usr/share/applications
#   ./install.sh --uninstall     (with --system: the system-wide installation) removes it
#
# Nothing is downloaded. After installing, `ftstudio --self-test` checks the installation.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
mode=user
action=install
for arg in "$@"; do
  case $arg in
    --system) mode=system ;;
    --uninstall) action=uninstall ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "unknown option: $arg (see --help)" >&2; exit 2 ;;
  esac
done

if [ "$mode" = system ]; then
  prefix=/opt/ftstudio; bindir=/usr/local/bin; share=/usr/share
else
  data=${XDG_DATA_HOME:-$HOME/.local/share}
  prefix=$HOME/.local/opt/ftstudio; bindir=$HOME/.local/bin; share=$data
fi
apps=$share/applications
icons=$share/icons/hicolor

refresh() {
  command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database -q "$apps" || true
  command -v gtk-update-icon-cache >/dev/null 2>&1 && gtk-update-icon-cache -q -t "$icons" || true
}

if [ "$action" = uninstall ]; then
  rm -rf "$prefix"
  rm -f "$bindir/ftstudio" "$apps/ftstudio.desktop" \
        "$icons/scalable/apps/ftstudio.svg" "$icons/512x512/apps/ftstudio.png"
  refresh
  echo "ftstudio removed (your projects, runs and model library stay where they are)"
  exit 0
fi

if [ ! -x "$here/ftstudio" ] || [ ! -d "$here/_internal" ]; then
  echo "run the install.sh inside the unpacked ftstudio folder" >&2
  exit 1
fi

echo "installing ftstudio into $prefix"
mkdir -p "$(dirname "$prefix")" "$bindir" "$apps" "$icons/scalable/apps" "$icons/512x512/apps"
if [ "$here" != "$prefix" ]; then
  rm -rf "$prefix.new"
  cp -a "$here" "$prefix.new"
  rm -rf "$prefix"
  mv "$prefix.new" "$prefix"
fi
ln -sf "$prefix/ftstudio" "$bindir/ftstudio"
sed -e "s|^Exec=ftstudio|Exec=\"$prefix/ftstudio\"|" -e "s|^TryExec=ftstudio|TryExec=$prefix/ftstudio|" \
  "$prefix/share/applications/ftstudio.desktop" > "$apps/ftstudio.desktop"
cp "$prefix/share/icons/hicolor/scalable/apps/ftstudio.svg" "$icons/scalable/apps/ftstudio.svg"
cp "$prefix/share/icons/hicolor/512x512/apps/ftstudio.png" "$icons/512x512/apps/ftstudio.png"
refresh

echo "done: start it from your applications menu, or run $bindir/ftstudio"
case ":$PATH:" in
  *":$bindir:"*) ;;
  *) echo "($bindir is not on your PATH: add it to run plain 'ftstudio')" ;;
esac
echo "check the installation with: $bindir/ftstudio --self-test"
