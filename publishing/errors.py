"""Why promotion or publication refused to go ahead: each message says what to do next."""

from __future__ import annotations


class PublishingError(RuntimeError):
    """Base class of the errors of write-audit-publish."""


class AuditFailed(PublishingError):
    """Error-level checks failed on the candidate warehouse; it is not promoted."""


class CandidateChanged(PublishingError):
    """The candidate warehouse changed while it was being audited or promoted."""


class PromotionRefused(PublishingError):
    """The candidate warehouse has no passed audit for exactly its content."""


class PublicationRefused(PublishingError):
    """The serving warehouse carries no passed audit record, so nothing is published from it."""


class ListYearNotAvailable(PublishingError):
    """The serving warehouse has no list for the requested year."""


class VersionConflict(PublishingError):
    """A publication version folder already exists; published versions are never overwritten."""
