"""Retry policy shared by the flows' I/O tasks: retry trouble, not a user's mistake."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def retry_unless(*user_errors: type[BaseException]) -> Callable[[Any, Any, Any], bool]:
    """A Prefect `retry_condition_fn` that retries everything except `user_errors`, which would fail the
    same way again (a bad row, an issue number already taken)."""

    def condition(task_: Any, task_run: Any, state: Any) -> bool:
        try:
            state.result()
        except user_errors:
            return False
        except Exception:
            return True
        return True

    return condition
