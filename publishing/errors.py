"""Why a publication could not be made: each message says what to do next."""

from __future__ import annotations

from core.errors import EduqError
from gate.errors import (
    ListIncomplete,
    ListNotComputable,
    ListYearNotAvailable,
    PublicationRefused,
)

__all__ = [
    "ListIncomplete",
    "ListNotComputable",
    "ListYearNotAvailable",
    "PublicationRefused",
    "PublishingError",
    "VersionConflict",
]


class PublishingError(EduqError, RuntimeError):
    """Base class of the errors of publication."""


class VersionConflict(PublishingError):
    """A publication version folder already exists; published versions are never overwritten."""
