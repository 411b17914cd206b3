# Sourced by bin/netgauge and scripts/test: make ./.venv exist with netgauge installed.
# Re-installs when pyproject.toml changes (its hash is kept in .venv/.netgauge-installed).
set -euo pipefail

NG_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NG_VENV="$NG_ROOT/.venv"

ng_log() { printf 'netgauge-setup: %s\n' "$*" >&2; }

ng_find_python() {
    local candidate
    for candidate in "${NETGAUGE_PYTHON:-}" python3.13 python3.12 python3.11 python3; do
        [ -n "$candidate" ] || continue
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            command -v "$candidate"
            return 0
        fi
    done
    return 1
}

ng_apt_install() {
    # Only as root, only packages missing; quiet unless it fails. NG_APT_OPTS: extra options
    # (e.g. --no-install-recommends).
    local missing=()
    local pkg
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    [ "${#missing[@]}" -eq 0 ] && return 0
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        ng_log "missing Debian package(s): ${missing[*]} (not root or no apt-get: not installing)"
        return 1
    fi
    ng_log "installing Debian package(s): ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # shellcheck disable=SC2086 # NG_APT_OPTS is a list of options
    if ! apt-get install -y -qq ${NG_APT_OPTS:-} "${missing[@]}" >/tmp/netgauge-apt.log 2>&1; then
        apt-get update -qq >>/tmp/netgauge-apt.log 2>&1 || true
        apt-get install -y -qq ${NG_APT_OPTS:-} "${missing[@]}" >>/tmp/netgauge-apt.log 2>&1 || {
            ng_log "apt-get install failed; see /tmp/netgauge-apt.log"
            return 1
        }
    fi
}

ng_ensure_venv() {
    # $1: pip extras, e.g. "" or "[dev]"
    local extras="${1:-}" python stamp want
    if [ ! -x "$NG_VENV/bin/python" ]; then
        python="$(ng_find_python)" || {
            ng_log "netgauge needs Python 3.11 or newer (set NETGAUGE_PYTHON to its path)"
            exit 1
        }
        if ! "$python" -c 'import venv, ensurepip' 2>/dev/null; then
            local ver
            ver="$("$python" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
            ng_apt_install "python${ver}-venv" || {
                ng_log "Python's venv module is missing: install Debian package python${ver}-venv"
                exit 1
            }
        fi
        ng_log "creating $NG_VENV with $python"
        "$python" -m venv "$NG_VENV"
    fi
    want="$(cat "$NG_ROOT/pyproject.toml" | sha256sum | cut -c1-16)$extras"
    stamp="$(cat "$NG_VENV/.netgauge-installed" 2>/dev/null || true)"
    case "$stamp" in
        "$want" | "${want%"$extras"}[dev]") ;;  # a dev install also serves the run command
        *)
            ng_log "installing netgauge$extras into $NG_VENV"
            "$NG_VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip >/dev/null
            "$NG_VENV/bin/python" -m pip install -q --disable-pip-version-check -e "$NG_ROOT$extras"
            printf '%s' "$want" >"$NG_VENV/.netgauge-installed"
            ;;
    esac
    # The install is editable, so pip compiled none of src/: byte-compile it here, because
    # where PYTHONDONTWRITEBYTECODE is set (CI images often set it) every start would
    # compile every module again (50 ms of `netgauge probe icmp`). Only changed files are
    # rewritten; a stale .pyc is never used (Python checks the source's mtime).
    "$NG_VENV/bin/python" -m compileall -q "$NG_ROOT/src" >/dev/null
}
