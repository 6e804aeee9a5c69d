#!/usr/bin/env bash
# Build the Binder environment from binder/ alone, as repo2docker would, then run
# notebooks in it, in order, in one session directory (default: the quickstart, the one a
# Binder session opens), the way a Binder user would.
#
#   binder/build.sh WORKDIR [NOTEBOOK ...]
#
# repo2docker cannot run here (no container engine), so the image is replaced by a
# directory: the Debian packages of apt.txt must be installed on this machine (installed
# with apt-get when missing, as root), the Python of runtime.txt makes a fresh virtual
# environment under WORKDIR, postBuild runs from the repository root with that
# environment first on PATH and HOME=WORKDIR/home, and `start` wraps the notebook run.
# Nothing of the developer's environment (.venv, PREFECT_HOME, PREFECT_API_URL) is used.
#
# BINDER_UV=PATH/TO/uv runs postBuild's `python -m pip install` as `uv pip install` into
# the same environment: the same requirements, resolved and installed by uv from its
# cache. The tests set it (pip without a cache takes about 5 minutes here).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
[ $# -ge 1 ] || { echo "usage: binder/build.sh WORKDIR [NOTEBOOK ...]" >&2; exit 2; }
work=$(mkdir -p "$1" && cd "$1" && pwd)
shift
notebooks=("$@")
[ ${#notebooks[@]} -gt 0 ] || notebooks=("$(ls "$root"/notebooks/*.ipynb | head -n 1)")
log() { printf 'binder/build.sh: %s\n' "$*" >&2; }

# 1. apt.txt: every package installed
mapfile -t packages < <(grep -vE '^\s*(#|$)' "$here/apt.txt")
missing=()
for pkg in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    log "installing apt.txt packages: ${missing[*]}"
    sudo=(); [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# 2. runtime.txt: that Python, in a fresh environment
version=$(sed -nE 's/^python-([0-9]+\.[0-9]+)$/\1/p' "$here/runtime.txt")
[ -n "$version" ] || { log "runtime.txt must read python-X.Y"; exit 1; }
python=$(command -v "python$version") || { log "python$version (runtime.txt) is not installed"; exit 1; }
rm -rf "$work/env" "$work/home"
"$python" -m venv "$work/env"
mkdir -p "$work/home"
clean_env=(env -u PREFECT_API_URL -u PREFECT_HOME -u VIRTUAL_ENV -u JUPYTER_PATH
    HOME="$work/home" PATH="$work/env/bin:/usr/local/bin:/usr/bin:/bin")
# uv keeps its cache under the real HOME
[ -z "${BINDER_UV:-}" ] || clean_env+=(UV_CACHE_DIR="${UV_CACHE_DIR:-$HOME/.cache/uv}")

# 3. postBuild, from the repository root, as repo2docker runs it
log "running postBuild (installs flint and its dependencies with pip)"
started=$(date +%s)
if [ -n "${BINDER_UV:-}" ]; then
    # the same script, its pip install line run by uv
    grep -q '^python -m pip install --no-cache-dir --compile ' "$here/postBuild" \
        || { log "postBuild's pip line changed: update build.sh"; exit 1; }
    sed "s|^python -m pip install --no-cache-dir --compile |$BINDER_UV pip install -q --compile-bytecode --python $work/env/bin/python |" \
        "$here/postBuild" > "$work/postBuild"
    (cd "$root" && "${clean_env[@]}" bash "$work/postBuild")
else
    (cd "$root" && "${clean_env[@]}" "$here/postBuild")
fi
log "postBuild took $(($(date +%s) - started)) s"
grep -q "default_url" "$work/home/.jupyter/jupyter_server_config.py" \
    || { log "postBuild did not set the session's default notebook"; exit 1; }

# 4. a session: start, then the notebook executed top to bottom in the Binder kernel;
# the embedded Prefect server the notebook starts under the session's PREFECT_HOME is
# stopped afterwards, as the end of a Binder session would
stop_server() {
    "${clean_env[@]}" PREFECT_HOME="$work/home/.prefect" flint server stop >/dev/null 2>&1 || true
}
trap stop_server EXIT
mkdir -p "$work/session"
for notebook in "${notebooks[@]}"; do
    cp "$notebook" "$work/session/"
    log "running $(basename "$notebook") in the Binder environment"
    started=$(date +%s)
    (cd "$work/session" && "${clean_env[@]}" MPLBACKEND=agg "$here/start" \
        jupyter execute --timeout=900 "$(basename "$notebook")")
    log "$(basename "$notebook") ran in $(($(date +%s) - started)) s"
done
