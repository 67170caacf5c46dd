"""Why a publication could not be made: each message says what to do next."""

from __future__ import annotations

from core.errors import EduqError
from gate.errors import PublicationRefused

__all__ = ["ListYearNotAvailable", "PublicationRefused", "PublishingError", "VersionConflict"]


class PublishingError(EduqError, RuntimeError):
    """Base class of the errors of publication."""


class ListYearNotAvailable(PublishingError):
    """The serving warehouse has no list for the requested year (or it cannot be computed)."""


class VersionConflict(PublishingError):
    """A publication version folder already exists; published versions are never overwritten."""
