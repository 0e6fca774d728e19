"""Errors a user can cause. Each renders as one line; the CLI maps them to exit codes."""

from __future__ import annotations


class UserError(Exception):
    """A problem the user can fix; printed as one line without a traceback."""

    exit_code = 1


class ConfigError(UserError):
    """Invalid configuration: names the file, the key and what is wrong (exit code 2)."""

    exit_code = 2

    def __init__(self, file: str, key: str, problem: str) -> None:
        self.file = file
        self.key = key
        self.problem = problem
        where = f"{file}: {key}" if key else file
        # One line whatever the file, key or problem holds (a YAML key may contain "\n").
        message = f"{where}: {problem}".replace("\r", "\\r").replace("\n", "\\n")
        super().__init__(message)


class UsageError(UserError):
    """Bad command-line usage (exit code 2)."""

    exit_code = 2
