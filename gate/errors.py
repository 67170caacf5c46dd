"""Why the gate refused: the audit failed, the candidate changed, promotion or publication refused.
Each message says what to do next."""

from __future__ import annotations

from core.errors import EduqError


class GateError(EduqError, RuntimeError):
    """Base class of the errors of the write-audit-publish gate."""


class AuditFailed(GateError):
    """Error-level checks failed on the candidate warehouse; it is not promoted."""


class CandidateChanged(GateError):
    """The candidate warehouse changed while it was being audited or promoted."""


class PromotionRefused(GateError):
    """The candidate warehouse has no passed audit for exactly its content."""


class PublicationRefused(GateError):
    """The serving warehouse carries no passed audit record, so nothing is published from it."""


class ListYearNotAvailable(GateError):
    """The serving warehouse has no list year of that number at all."""


class ListNotComputable(ListYearNotAvailable):
    """The list of that year cannot be computed (a results year it needs is missing): there is no list."""


class ListIncomplete(GateError):
    """The results the list depends on are not all delivered yet: it is not published."""
