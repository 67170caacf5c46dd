"""Every user-facing error path of the CLI (`eduq run`, `publish`, `report`, `card`, `docs`,
`pg-publish`): one clear message, the right exit code, no traceback, and nothing published or
promoted (issue 9, "Clear messages")."""

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


def test_a_failed_run_says_which_checks_failed_exit_1_and_promotes_nothing(
    served: Settings, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A night whose build or audit fails: the failed checks in words, where the log is, exit 1;
    the serving warehouse and the publications are untouched (the gate itself is tested on the
    real pipeline in tests/integration/test_gates.py)."""
    import gate.expectations.gx_runner
    import orchestration.runner

    (served.landing_dir / "schools").mkdir(parents=True, exist_ok=True)
    (served.landing_dir / "schools" / "schools_2025.csv").write_text("Код ОО\n", encoding="utf-8")
    serving, publications = served.serving_db.read_bytes(), _snapshot(served.publications_dir)
    failure = (
        "Build 20261203T020000-1a2b3c4d failed its audit; the serving warehouse and the "
        "publications are unchanged.\n  ERROR gx__raw__vpr_results__marks_2_to_5 [raw/vpr_results]: "
        "1 of 3 row(s) wrong: max_mark above 5."
    )

    def failing_run(run_settings, list_year=None, **kwargs):
        import logging

        logging.getLogger("eduq.test").warning("the pipeline's own output goes to the log")
        raise orchestration.runner.PipelineFailed(failure)

    monkeypatch.setattr(orchestration.runner, "run_pipeline", failing_run)
    monkeypatch.setattr(gate.expectations.gx_runner, "preload", lambda: None)
    code, out, err = _run(["run"], capsys)
    assert code == 1
    assert failure in err and "Traceback" not in err + out
    details = [line for line in err.splitlines() if line.startswith("Details: ")]
    assert len(details) == 1 and Path(details[0].removeprefix("Details: ")).stat().st_size > 0
    assert served.serving_db.read_bytes() == serving
    assert _snapshot(served.publications_dir) == publications


@pytest.mark.parametrize(
    ("argv", "code", "words"),
    [
        (["card"], 2, "Give a school code"),
        (["card", "sch000001"], 1, "no serving warehouse"),
        (["report"], 1, "no serving warehouse"),
        (["docs", "--no-serve"], 1, "no serving warehouse"),
    ],
)
def test_the_document_commands_without_a_serving_warehouse_say_so(
    settings: Settings,  # noqa: F811
    capsys,
    argv: list[str],
    code: int,
    words: str,
) -> None:
    got, out, err = _run(argv, capsys)
    assert got == code and words in err and "Traceback" not in err + out
    assert not settings.publications_dir.exists() or not any(settings.publications_dir.iterdir())


def test_pg_publish_without_postgresql_says_how_to_start_it(
    served: Settings, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("EDUQ_PG_URL", raising=False)
    code, out, err = _run(["pg-publish"], capsys)
    assert code == 1 and "no PostgreSQL configured" in err and "make postgres" in err
    assert "Traceback" not in err + out


_EXIT_SCRIPT = """
import atexit, logging, sys, threading, time
from pathlib import Path
import orchestration.cli as cli

out = Path(sys.argv[1])
def main(argv=None):
    handler = logging.FileHandler(out / "run.log")
    logging.getLogger("eduq.test").addHandler(handler)
    logging.getLogger("eduq.test").warning("logged before the end")  # flushed by logging's exit handler
    atexit.register(lambda: (out / "atexit").write_text("ran"))
    def background():
        time.sleep(0.3)
        (out / "background").write_text("done")
    threading.Thread(target=background, name="eduq-background-test").start()
    print("x" * 200_000, end="")  # more than a pipe holds: written whole before the process ends
    print("the end")
    return int(sys.argv[2])
cli.main = main
cli.entry()
"""


@pytest.mark.parametrize("code", [0, 1, 3])
def test_the_eduq_command_leaves_with_mains_code_after_flushing_and_its_background_tasks(
    tmp_path: Path, code: int
) -> None:
    """`eduq` skips the interpreter's teardown (os._exit after main): the exit code is main's, the
    whole output reaches the pipe, exit handlers run (logging's flush), and eduq's background
    threads finish first."""
    import subprocess
    import sys

    script = tmp_path / "entry.py"
    script.write_text(_EXIT_SCRIPT, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(script), str(tmp_path), str(code)],
        capture_output=True, text=True, timeout=120, check=False,
        cwd=Path(__file__).resolve().parents[2],
    )  # fmt: skip
    assert done.returncode == code, done.stderr[-2000:]
    assert done.stdout == "x" * 200_000 + "the end\n"
    assert (tmp_path / "atexit").read_text() == "ran"
    assert (tmp_path / "background").read_text() == "done"
    assert "logged before the end" in (tmp_path / "run.log").read_text()


@pytest.mark.parametrize(("argv", "documents"), [(["run"], False), (["run", "--documents"], True)])
def test_run_asks_for_the_documents_only_with_documents(
    settings: Settings,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    capsys,
    argv: list[str],
    documents: bool,
) -> None:
    """`eduq run --documents` has the run publish the report and the cards with the list (the job
    publish_list with every asset: tests/integration/conftest.py region_documents); a plain run
    leaves them to `eduq report` / `eduq card --all`."""
    from orchestration import runner
    from orchestration.cli import main

    asked = []

    def run_pipeline(settings, list_year=None, quiet=False, documents=False, instance=None):
        asked.append(documents)
        raise runner.PipelineFailed("stopped by the test")

    monkeypatch.setattr(runner, "run_pipeline", run_pipeline)
    (settings.landing_dir / "schools").mkdir(parents=True, exist_ok=True)
    (settings.landing_dir / "schools" / "schools_2024.csv").write_text("x\n", encoding="utf-8")
    assert main(argv) == 1
    assert asked == [documents]
    assert "stopped by the test" in capsys.readouterr().err


def test_sigterm_stops_a_command_as_ctrl_c_does(monkeypatch, capsys) -> None:
    """SIGTERM (a service manager, `kill`, `timeout`) interrupts a command: the message of an
    interrupted step and exit code 130, as Ctrl+C; SIGTERM's handler is the caller's again after."""
    import os
    import signal
    import time

    from orchestration import cli

    def terminated(args) -> int:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # the handler runs at once (it raises): the command never returns 0
        return 0

    monkeypatch.setattr(cli, "_cmd_run", terminated)
    before = signal.getsignal(signal.SIGTERM)
    code, _, err = _run(["run"], capsys)
    assert code == 130 and "Interrupted; nothing was promoted or published" in err
    assert signal.getsignal(signal.SIGTERM) == before
