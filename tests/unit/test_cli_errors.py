"""Every user-facing error path of `eduq run` and `eduq publish`: one clear message, the right exit
code, no traceback, and nothing published or promoted (issue 9, "Clear messages")."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.settings import Settings
from gate.promote import promote
from tests.unit.test_publishing import audit, settings, write_candidate  # noqa: F401 (fixtures)


def _snapshot(folder: Path) -> dict[str, bytes]:
    if not folder.exists():
        return {}
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


@pytest.fixture()
def served(settings: Settings) -> Settings:  # noqa: F811
    """A serving warehouse with a passed audit: list 2025 publishable, 2024 cannot be computed
    (no 2022 results), 2026 incomplete."""
    audit(settings)
    promote(settings)
    return settings


def _run(argv: list[str], capsys) -> tuple[int, str, str]:
    from orchestration.cli import main

    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_publish_without_a_serving_warehouse_says_to_run_first(settings: Settings, capsys) -> None:  # noqa: F811
    code, _, err = _run(["publish", "--year", "2025"], capsys)
    assert code == 1
    assert "no serving warehouse" in err and "run `eduq run` first" in err
    assert "Traceback" not in err
    assert not settings.serving_db.exists()


@pytest.mark.parametrize(
    ("year", "words"),
    [
        (2031, "has no ШНОР list for 2031"),
        (2024, "cannot be computed: it needs results of 2022"),
        (2026, "results it depends on are incomplete"),
    ],
)
def test_publish_refuses_a_year_without_a_publishable_list_with_exit_2(
    served: Settings, capsys, year: int, words: str
) -> None:
    before = _snapshot(served.publications_dir)
    code, out, err = _run(["publish", "--year", str(year)], capsys)
    assert code == 2
    assert err.startswith("Not published: ") and words in err
    assert len(err.strip().splitlines()) == 1, err  # one line, no traceback
    assert out == ""
    assert _snapshot(served.publications_dir) == before


def test_run_with_a_list_year_that_has_no_list_refuses_with_exit_2(
    served: Settings, capsys
) -> None:
    serving_before = served.serving_db.read_bytes()
    code, _, err = _run(["run", "--list-year", "2024"], capsys)
    assert code == 2
    assert "Not published:" in err and "results of 2022" in err
    assert "Traceback" not in err
    assert served.serving_db.read_bytes() == serving_before
    assert not (served.publications_dir / "2024").exists()


def test_run_verbose_never_points_to_a_log_that_was_not_written(served: Settings, capsys) -> None:
    code, _, err = _run(["run", "--list-year", "2031", "--verbose"], capsys)
    assert code == 2
    assert "Details:" not in err
    assert not (served.home / "logs").exists() or not any((served.home / "logs").glob("run-*"))


def test_a_bad_setting_is_one_line_not_a_traceback(
    settings: Settings,  # noqa: F811
    capsys,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("EDUQ_TODAY", "yesterday")
    code, _, err = _run(["publish", "--year", "2025"], capsys)
    assert code == 1
    assert "EDUQ_TODAY='yesterday' is not a date" in err and "Traceback" not in err


def test_an_unexpected_error_is_one_line_with_the_traceback_in_a_log(
    served: Settings, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    import orchestration.cli

    def broken(_args):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(orchestration.cli, "_cmd_sql", broken)
    code, _, err = _run(["sql", "select 1"], capsys)
    assert code == 3
    assert "unexpected error: ZeroDivisionError: division by zero" in err
    assert "Traceback" not in err
    log = next((served.home / "logs").glob("error-*.log"))
    assert "ZeroDivisionError" in log.read_text(encoding="utf-8")
