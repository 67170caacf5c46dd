"""Withdrawals not yet built (`eduq withdraw`, ingestion.withdraw): the serving warehouse still holds
the rows of a file withdrawn since its build, so nothing is published from it until the next
promotion, which builds without the file.

The note is ``withdrawals-pending.json`` beside the serving file: the withdrawal writes it after
its commit, publications refuse while it exists (gate.publishable.require_intact), and promotion
removes it after the new serving file is in place (gate.promote.promote). Every writer holds the
home's writer lock, so a promotion after a withdrawal is of a build that started after it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from core.files import write_json_atomic

PENDING = "withdrawals-pending.json"


def pending_path(serving: Path) -> Path:
    return serving.with_name(PENDING)


def pending_withdrawals(serving: Path) -> list[dict[str, Any]]:
    """The withdrawals since the serving file's build (empty when none; an unreadable note counts
    as one withdrawal of an unknown file: publishing from a warehouse that may hold it is refused)."""
    path = pending_path(serving)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, ValueError):
        data = None
    entries = data.get("withdrawals") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        return [{"unreadable": str(path)}]
    return entries


def note_pending(serving: Path, withdrawal: dict[str, Any]) -> None:
    entries = [e for e in pending_withdrawals(serving) if "unreadable" not in e]
    entries.append(withdrawal)
    write_json_atomic(pending_path(serving), {"withdrawals": entries})


def clear_pending(serving: Path) -> None:
    pending_path(serving).unlink(missing_ok=True)


def describe_pending(serving: Path) -> str | None:
    """Why nothing may be published from ``serving`` now (None: nothing withdrawn since its build)."""
    entries = pending_withdrawals(serving)
    if not entries:
        return None
    if any("unreadable" in e for e in entries):
        return (
            f"{pending_path(serving)} (files withdrawn since the serving warehouse was built) "
            "cannot be read: the warehouse may hold rows of a withdrawn file. Run `eduq run`: it "
            "builds and checks the warehouse again and publishes"
        )
    named = "; ".join(
        f"file {e.get('file_id')} «{e.get('file_name')}»"
        + (f" ({e['reason']})" if e.get("reason") else "")
        for e in entries
    )
    return (
        f"{named} {'was' if len(entries) == 1 else 'were'} withdrawn after the serving warehouse was "
        f"built, and it still holds {'its' if len(entries) == 1 else 'their'} rows. Run `eduq run`: "
        f"it builds and checks the warehouse without {'it' if len(entries) == 1 else 'them'} and "
        "publishes"
    )
