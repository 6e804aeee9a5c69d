"""The one exception family of flint.

Every error a user can trigger names the file (or option) and the problem, so the
message alone says what to fix.
"""

from __future__ import annotations

from collections.abc import Iterable
from os import PathLike


class FlintError(Exception):
    """Base class of every error flint raises on purpose."""

    def __init__(self, problem: str, path: str | PathLike[str] | None = None) -> None:
        self.problem = problem
        self.path = None if path is None else str(path)
        super().__init__(problem if self.path is None else f"{self.path}: {problem}")


class InputError(FlintError, ValueError):
    """A file or option given to flint is unusable."""


class MeasurementSetError(InputError):
    """A measurement set is missing, unreadable or lacks what a step needs."""


class SkyModelError(InputError):
    """A sky model (component list or table) cannot be used."""


class SolutionsError(InputError):
    """A calibration solutions file is unreadable or does not match the data."""


class ConfigError(InputError):
    """A configuration file or option set is invalid; ``problems`` lists every issue."""

    def __init__(
        self,
        problems: Iterable[str] | str,
        path: str | PathLike[str] | None = None,
    ) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        text = (
            self.problems[0]
            if len(self.problems) == 1
            else "\n  - ".join([f"{len(self.problems)} problems:", *self.problems])
        )
        super().__init__(text, path)


class ToolError(FlintError, RuntimeError):
    """An external program (wsclean, aoflagger, BANE...) failed."""

    def __init__(self, argv: list[str], returncode: int | None, tail: str, log_path=None) -> None:
        self.argv = list(argv)
        self.returncode = returncode
        self.tail = tail
        where = f" (full log: {log_path})" if log_path else ""
        status = "timed out" if returncode is None else f"exited with code {returncode}"
        super().__init__(f"{self.argv[0]} {status}{where}; last output:\n{tail}")


class ToolCancelled(ToolError):
    """An external program was stopped because its run was cancelled."""

    def __init__(self, argv: list[str], log_path=None) -> None:
        FlintError.__init__(
            self,
            f"{argv[0]} stopped: the run was cancelled"
            + (f" (full log: {log_path})" if log_path else ""),
        )
        self.argv, self.returncode, self.tail = list(argv), None, ""
