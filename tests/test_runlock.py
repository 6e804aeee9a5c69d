"""One run per output directory: a second run refuses at once, a dead run's lock is taken."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from flint.runlock import OutputBusyError, check_output_dir_free, hold_output_dir

HOLD = """
import sys, time
from flint.runlock import hold_output_dir
with hold_output_dir(sys.argv[1], run="flow run 'crimson-fox'"):
    print("held", flush=True)
    time.sleep(600)
"""


def test_second_run_refuses_naming_the_holder_and_a_killed_holder_is_replaced(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        started = time.monotonic()
        with pytest.raises(OutputBusyError, match=r"in use by flow run 'crimson-fox' \(pid \d+"):
            check_output_dir_free(tmp_path)
        assert time.monotonic() - started < 1  # at once, not after a wait
    finally:
        holder.send_signal(signal.SIGKILL)  # dies holding the lock: no cleanup runs
        holder.wait()
        holder.stdout.close()
    held = hold_output_dir(tmp_path, run="the next run")
    with held, pytest.raises(OutputBusyError, match="the next run"):
        check_output_dir_free(tmp_path)
    check_output_dir_free(tmp_path)
