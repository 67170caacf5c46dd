"""The base of every error eduq reports to a person: its message says what happened and what to do."""

from __future__ import annotations


class EduqError(Exception):
    """An error whose message is meant for the user (no traceback is shown for it)."""
