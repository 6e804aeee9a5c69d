#!/usr/bin/env bash
# Install everything flint needs on Debian 12 / Ubuntu (as root or with sudo), then
#   bootstrap.sh demo [ARGS]  run the main job end to end (flint demo ARGS)
#   bootstrap.sh test [ARGS]  run the whole test suite (pytest ARGS)
#   bootstrap.sh install      only install
# Safe to repeat: Debian packages are installed only when missing, the virtual
# environment (.venv) is reused, and the project is reinstalled in place.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$here"
action=${1:-install}
[ $# -gt 0 ] && shift

# Debian packages: the science tools for every run, and what the tests drive for real.
run_packages=(wsclean aoflagger casacore-data python3-venv git)
test_packages=(chromium slurmctld slurmd slurm-client munge postgresql)

log() { printf '\033[1mflint bootstrap:\033[0m %s\n' "$*" >&2; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"
    elif command -v sudo >/dev/null; then sudo "$@"
    else log "need root (or sudo) to run: $*"; exit 1
    fi
}

install_debian_packages() {
    local missing=() pkg
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
            || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    log "installing Debian packages: ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
}

find_python() {
    local candidate
    for candidate in "${PYTHON:-}" python3.13 python3.12 python3.11 python3; do
        [ -n "$candidate" ] && command -v "$candidate" >/dev/null || continue
        if "$candidate" -c 'import sys, venv; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            echo "$candidate"; return 0
        fi
    done
    log "flint needs Python >= 3.11 with the venv module (Debian 12: apt-get install python3-venv)"
    exit 1
}

install_python_environment() {
    local python
    python=$(find_python)
    if [ ! -x .venv/bin/python ]; then
        log "creating virtual environment .venv with $python"
        "$python" -m venv .venv
    fi
    if [ ! -x .venv/bin/uv ]; then
        .venv/bin/python -m pip install -q --disable-pip-version-check uv
    fi
    log "installing flint and its Python dependencies (bytecode compiled)"
    VIRTUAL_ENV="$here/.venv" .venv/bin/uv pip install -q --python .venv/bin/python \
        --compile-bytecode -e ".[dev]"
    # the editable project itself is not compiled by uv; PYTHONDONTWRITEBYTECODE may be set
    .venv/bin/python -m compileall -q -j 0 flint widgets >/dev/null
}

case "$action" in
    install|demo) packages=("${run_packages[@]}") ;;
    test) packages=("${run_packages[@]}" "${test_packages[@]}") ;;
    *) log "usage: bootstrap.sh install|demo|test [ARGS]"; exit 2 ;;
esac

install_debian_packages "${packages[@]}"
install_python_environment

case "$action" in
    install) log "installed: activate with 'source .venv/bin/activate', then run 'flint --help'" ;;
    demo) exec .venv/bin/flint demo "$@" ;;
    test) exec .venv/bin/python -m pytest "$@" ;;
esac
