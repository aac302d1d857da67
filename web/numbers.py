"""Every number a request carries is parsed here, once and strictly (issue 13.8).

`str.isdigit()` is true for "²" and "٣", which `int()` then refuses (a 500), and ids past 64 bits
overflow the database driver (another 500). Only ASCII digits, at most 19 of them, up to the
largest 64-bit id, count as a number; anything else is "not a number": 400/404, never 500.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BeforeValidator, Field

MAX_ID = 2**63 - 1
_DIGITS = re.compile(r"[0-9]{1,19}")


def parse_int(text: object, *, maximum: int = MAX_ID) -> int | None:
    """The number `text` spells in ASCII digits, if it is between 0 and `maximum`; else None."""
    if isinstance(text, int) and not isinstance(text, bool):
        return text if 0 <= text <= maximum else None
    if not isinstance(text, str) or not _DIGITS.fullmatch(text):
        return None
    value = int(text)
    return value if value <= maximum else None


def _strict(value: object) -> int:
    parsed = parse_int(value)
    if parsed is None:
        raise ValueError("not a number (ASCII digits, at most 2**63-1)")
    return parsed


# For path, query and JSON fields: FastAPI turns a refusal into its validation error (400 page, 422 JSON).
Id = Annotated[int, BeforeValidator(_strict), Field(ge=0, le=MAX_ID)]
