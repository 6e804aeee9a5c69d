"""What ``flint demo`` prints on a terminal (issue 19): at most 150 lines, tools' output in logs.

Runs ``flint demo`` on a pseudo-terminal of 120 x 40 characters, as a user's shell would,
with its own Prefect home, and replays every byte it wrote through a terminal emulator
(pyte) with unlimited scrollback. Counted:

- ``rows``: the terminal rows the run leaves (scrollback and screen, up to the last
  non-blank row): long lines wrap, and the progress bars, redrawn in place and erased at
  the end, leave none;
- ``foreign_rows``: those written by others than flint: Prefect's one-time telemetry notice
  (first use of a PREFECT_HOME) and casacore's leap-second warnings (a stale measures table);
- ``newlines``: newline characters written; ``tool_rows``: rows of wsclean's, aoflagger's,
  BANE's or Aegean's own output;
- ``wsclean_logs``: the tools' log files beside the products hold their full output.

Goal: ``rows <= 150`` and no tool output on the terminal. Takes as long as the demo
(~7 min alone on 2 cores). Run: ``.venv/bin/python benchmarks/bench_terminal.py
[--workdir DIR] [--output benchmarks/results/terminal.json]``.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import platform
import pty
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
GOAL_ROWS = 150
TOOL_MARKERS = (
    "WSClean version",
    "== Deconvolving",
    "AOFlagger",
    "Starting strategy",
    "BANE - ",
    "aegean - ",
)
_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def capture(
    argv: list[str], env: dict[str, str], columns: int = 120, rows: int = 40
) -> tuple[bytes, int]:
    """Everything ``argv`` writes to a pseudo-terminal of ``columns`` x ``rows``, and its
    exit code."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    process = subprocess.Popen(
        argv, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the terminal closed with the process
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    return b"".join(chunks), process.wait()


def terminal_rows(raw: bytes, columns: int = 120, rows: int = 40) -> list[str]:
    """The rows a terminal of ``columns`` x ``rows`` holds after ``raw``, scrollback first,
    up to the last non-blank row."""
    import pyte

    screen = pyte.HistoryScreen(columns, rows, history=1_000_000, ratio=0.5)
    pyte.ByteStream(screen).feed(raw)
    scrolled = ["".join(row[x].data for x in range(columns)) for row in screen.history.top]
    kept = [*map(str.rstrip, scrolled), *map(str.rstrip, screen.display)]
    while kept and not kept[-1]:
        kept.pop()
    return kept


def _foreign_rows(rows: list[str]) -> list[str]:
    """Rows others than flint wrote: Prefect's telemetry notice (with its blank rows) and
    casacore's SEVERE measures warnings, wrapped continuations included."""
    foreign: set[int] = set()
    notice = False
    for index, row in enumerate(rows):
        notice = notice or row.startswith("Prefect collects anonymous usage data")
        continued = index - 1 in foreign and len(rows[index - 1]) == 120
        if notice or continued or "SEVERE" in row or not row.strip():
            foreign.add(index)
        notice = notice and not row.startswith("Learn more:")
    return [rows[index] for index in sorted(foreign)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, help="keep the demo here (default: temporary)")
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks/results/terminal.json")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="flint-bench-terminal-"))
    workdir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PREFECT_HOME": str(workdir / "prefect-home"), "TERM": "xterm-256color"}
    env.pop("PREFECT_API_URL", None)  # the demo starts its own server in its own home
    flint = str(Path(sys.executable).with_name("flint"))
    started = time.monotonic()
    try:
        raw, returncode = capture([flint, "demo", "--output", str(workdir / "demo")], env)
        seconds = time.monotonic() - started
    finally:  # the demo leaves its embedded server running for the next run: not here
        subprocess.run([flint, "server", "stop"], env=env, capture_output=True, check=False)
    (workdir / "terminal.raw").write_bytes(raw)
    if returncode != 0:
        raise SystemExit(f"flint demo exited {returncode}; what it printed: {workdir}/terminal.raw")
    rows = terminal_rows(raw)
    (workdir / "terminal.txt").write_text("\n".join(rows) + "\n")
    demo = workdir / "demo"
    logs = sorted(demo.rglob("*.log"))
    wsclean_logs = [path for path in logs if path.name.endswith("-wsclean.log")]
    tool_rows = [row for row in rows if any(marker in row for marker in TOOL_MARKERS)]
    foreign = _foreign_rows(rows)
    results: dict[str, Any] = {
        "benchmark": "terminal",
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "load_average_at_end": list(os.getloadavg()),
        "terminal": {"columns": 120, "rows": 40},
        "demo_wall_s": round(seconds, 1),
        "bytes": len(raw),
        "newlines": raw.count(b"\n"),
        "rows": len(rows),
        "foreign_rows": len(foreign),
        "flint_rows": len(rows) - len(foreign),
        "tool_rows": len(tool_rows),
        "task_rows": sum(row[9:18] in ("started  ", "finished ", "cached   ") for row in rows),
        "tool_logs": len(logs),
        "wsclean_logs": len(wsclean_logs),
        "wsclean_logs_with_full_output": sum(
            "WSClean version" in path.read_text(errors="replace") for path in wsclean_logs
        ),
        "goal_rows": GOAL_ROWS,
        "last_rows": rows[-14:],
    }
    results["ok"] = len(rows) <= GOAL_ROWS and not tool_rows and bool(wsclean_logs)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    if args.workdir is None:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
