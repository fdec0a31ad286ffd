"""Small readers of posted values shared by the console's views."""

from __future__ import annotations

import uuid


def form_token() -> str:
    """A one-off token a form carries, so that posting it twice records once."""
    return uuid.uuid4().hex


def post_int(value: object) -> int:
    """A posted id as an integer; -1 (which matches no row) when it is not one."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return -1
