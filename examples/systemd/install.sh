#!/bin/sh
# Installs jobkernel as a systemd user service (docs/running-as-a-service.md).
#
#   examples/systemd/install.sh [--from DIR] [--enable] [--restart]
#
# Copies `jobkernel`, `jobkernel-supervise` (the kernel runs every handler and worker under it and
# looks for it next to its own binary) and, when built, `jobkernel-web` to ~/.local/bin, and
# jobkernel.service to ~/.config/systemd/user; creates ~/.config/jobkernel, the service's working
# directory, where it reads jobkernel.toml if you put one there.
#
#   --from DIR   where the built binaries are (default: $JOBKERNEL_BUILD_DIR, else the repository's
#                .build/release, else .build/debug)
#   --enable     also `systemctl --user enable --now jobkernel.service`
#   --restart    also restart the service if it is running (after an upgrade)
#
# Binaries are replaced atomically (written beside, then renamed), so upgrading under a running
# kernel is safe; restart it afterwards so that it runs the new version.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
from=${JOBKERNEL_BUILD_DIR:-}
enable=no
restart=no

while [ $# -gt 0 ]; do
    case $1 in
        --from) [ $# -ge 2 ] || { echo "install.sh: --from needs a directory" >&2; exit 2; }; from=$2; shift 2 ;;
        --from=*) from=${1#--from=}; shift ;;
        --enable) enable=yes; shift ;;
        --restart) restart=yes; shift ;;
        -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "install.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done

if [ -z "$from" ]; then
    for d in "$repo/.build/release" "$repo/.build/debug"; do
        if [ -x "$d/jobkernel" ] && [ -x "$d/jobkernel-supervise" ]; then from=$d; break; fi
    done
fi
if [ -z "$from" ] || [ ! -x "$from/jobkernel" ] || [ ! -x "$from/jobkernel-supervise" ]; then
    echo "install.sh: no built jobkernel and jobkernel-supervise found${from:+ in $from};" >&2
    echo "  build them first (swift build -c release) or pass --from DIR" >&2
    exit 1
fi

: "${HOME:?HOME is not set}"
bin_dir=$HOME/.local/bin
unit_dir=${XDG_CONFIG_HOME:-$HOME/.config}/systemd/user
work_dir=$HOME/.config/jobkernel

mkdir -p "$bin_dir" "$unit_dir" "$work_dir"

# Write beside the target, then rename: a running binary cannot be overwritten in place
# ("Text file busy"), and a half-written one must never be run.
put() { # put SRC DEST MODE
    tmp="$(dirname "$2")/.$(basename "$2").new.$$"
    cp "$1" "$tmp"
    chmod "$3" "$tmp"
    mv -f "$tmp" "$2"
}

put "$from/jobkernel-supervise" "$bin_dir/jobkernel-supervise" 0755
put "$from/jobkernel" "$bin_dir/jobkernel" 0755
# The HTTP gateway, which `jobkernel web` looks for next to jobkernel (docs/web.md), when built.
if [ -x "$from/jobkernel-web" ]; then
    put "$from/jobkernel-web" "$bin_dir/jobkernel-web" 0755
    echo "installed $bin_dir/jobkernel-web (run \`jobkernel web\` for the dashboard)"
fi
put "$here/jobkernel.service" "$unit_dir/jobkernel.service" 0644
put "$here/jobkernel.socket" "$unit_dir/jobkernel.socket" 0644
echo "installed $bin_dir/jobkernel, $bin_dir/jobkernel-supervise, $unit_dir/jobkernel.service and jobkernel.socket"

# systemctl --user needs a running user manager (a login session, or lingering).
if command -v systemctl >/dev/null 2>&1 && systemctl --user show-environment >/dev/null 2>&1; then
    systemctl --user daemon-reload
    if [ "$enable" = yes ]; then
        systemctl --user enable --now jobkernel.service
    fi
    if [ "$restart" = yes ] && systemctl --user is-active --quiet jobkernel.service; then
        systemctl --user restart jobkernel.service
    fi
    systemctl --user --no-pager status jobkernel.service 2>/dev/null | head -n 3 || true
else
    echo "no systemd user manager reachable here; when there is one, run:"
    echo "  systemctl --user daemon-reload"
    echo "  systemctl --user enable --now jobkernel.service"
fi
case ":$PATH:" in
    *":$bin_dir:"*) ;;
    *) echo "note: $bin_dir is not on your PATH (the service does not need it; your shell does)" ;;
esac
