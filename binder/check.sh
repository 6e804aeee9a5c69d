#!/usr/bin/env bash
# Check that the Binder files agree with the project, without building an image.
#
# CI cannot run repo2docker here (no container engine), so this checks what can be
# checked statically: the Debian packages, the Python version, the extra that postBuild
# installs, the executables. The install steps themselves (Debian packages, then flint
# installed from the checkout) are the ones scripts/bootstrap.sh runs in a fresh
# virtual environment, which `bash scripts/bootstrap.sh test` exercises end to end.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
python=${PYTHON:-$root/.venv/bin/python}
[ -x "$python" ] || python=python3
problems=0
fail() { echo "binder/check.sh: $*" >&2; problems=$((problems + 1)); }

# 1. every science package bootstrap installs for a run is in apt.txt
# (python3-venv and git are for bootstrap's own virtual environment and clone)
run_line=$(grep -E '^run_packages=\(' "$root/scripts/bootstrap.sh") || fail "no run_packages in bootstrap.sh"
apt=$(grep -vE '^\s*(#|$)' "$here/apt.txt")
for pkg in $(echo "$run_line" | sed -E 's/^run_packages=\((.*)\)/\1/'); do
    case "$pkg" in python3-venv|git) continue ;; esac
    grep -qx "$pkg" <<<"$apt" || fail "apt.txt lacks $pkg (in bootstrap's run_packages)"
done

# 2. runtime.txt's Python satisfies requires-python; postBuild's extra exists
"$python" - "$root" "$here" <<'PY' || problems=$((problems + 1))
import re, sys, tomllib
from pathlib import Path

root, here = map(Path, sys.argv[1:])
project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
bad = []
runtime = (here / "runtime.txt").read_text().strip()
match = re.fullmatch(r"python-(\d+)\.(\d+)", runtime)
minimum = re.search(r">=\s*(\d+)\.(\d+)", project["requires-python"])
if not match or not minimum or tuple(map(int, match.groups())) < tuple(map(int, minimum.groups())):
    bad.append(f"runtime.txt {runtime!r} does not satisfy requires-python {project['requires-python']!r}")
post = (here / "postBuild").read_text()
for extra in re.findall(r'"\.\[([\w,-]+)\]"', post):
    for name in extra.split(","):
        if name not in project.get("optional-dependencies", {}):
            bad.append(f"postBuild installs extra {name!r}, which pyproject.toml does not define")
if not re.search(r'pip install[^\n]*"\.(\[[\w,-]+\])?"', post):
    bad.append("postBuild does not install the project itself (pip install \".[...]\")")
for line in bad:
    print(f"binder/check.sh: {line}", file=sys.stderr)
sys.exit(1 if bad else 0)
PY

# 3. repo2docker runs these only if they are executable; there must be a notebook to open
for script in postBuild start; do
    [ -x "$here/$script" ] || fail "$script is not executable"
done
ls "$root"/notebooks/*.ipynb >/dev/null 2>&1 || fail "no notebook in notebooks/ for the session to open"

if [ "$problems" -gt 0 ]; then
    echo "binder/check.sh: $problems problem(s)" >&2
    exit 1
fi
echo "binder: OK"
