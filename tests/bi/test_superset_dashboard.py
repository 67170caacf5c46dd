"""A real BI tool on the marts: Superset, installed and set up by the project's script, with the
dashboard of bi/superset/assets/.

- headless Chromium (Debian package) logs in, opens the dashboard, waits until every chart has
  rendered with no error, takes a screenshot (docs/img/superset_dashboard.png is one), and no
  request leaves the machine (the Scarf pixel of Superset's front end is blocked by the content
  security policy);
- the numbers each chart's query returns (Superset's chart data API) equal what the marts say,
  computed here independently: the list charts against the published ШНОР list file, the risk zone
  and the dynamics against the school-level marts;
- Superset's own DuckDB (1.x) reads the serving warehouse exported for it, read-only.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import time
from collections import Counter
from pathlib import Path

import duckdb
import pytest
import requests

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = "eduq-rcoko"
CHARTS = {
    "Всего ШНОР в текущем списке",
    "ШНОР по кластерам ФИОКО",
    "ШНОР по муниципальным образованиям и кластерам",
    "Список ШНОР",
    "Школы «зоны риска» по муниципальным образованиям",
    "Динамика по оценочным процедурам",
}


def api(superset) -> requests.Session:
    session = requests.Session()
    token = session.post(
        f"{superset.url}/api/v1/security/login",
        json={
            "username": "admin",
            "password": superset.password,
            "provider": "db",
            "refresh": False,
        },
        timeout=30,
    ).json()["access_token"]
    session.headers["Authorization"] = f"Bearer {token}"
    csrf = session.get(f"{superset.url}/api/v1/security/csrf_token/", timeout=30).json()["result"]
    session.headers["X-CSRFToken"] = csrf
    session.headers["Referer"] = superset.url
    return session


def chart_data(superset) -> dict[str, list[dict]]:
    session = api(superset)
    charts = session.get(f"{superset.url}/api/v1/dashboard/{DASHBOARD}/charts", timeout=30).json()
    out = {}
    for chart in charts["result"]:
        response = session.get(f"{superset.url}/api/v1/chart/{chart['id']}/data/", timeout=60)
        assert response.status_code == 200, response.text
        out[chart["slice_name"]] = response.json()["result"][0]["data"]
    return out


def published_list(settings) -> list[dict]:
    path = settings.publications_dir / "2025" / "v1" / "shnor_list_2025.csv"
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh, delimiter=";"))


def test_every_chart_returns_what_the_marts_say(small_region, superset) -> None:
    data = chart_data(superset)
    assert set(data) == CHARTS
    listed = published_list(small_region.settings)  # the official list, published separately
    assert len(listed) == small_region.summary.list_size > 0

    assert data["Всего ШНОР в текущем списке"] == [{"Число ШНОР": len(listed)}]
    assert {r["fioko_cluster_ru"]: r["Число ШНОР"] for r in data["ШНОР по кластерам ФИОКО"]} == (
        Counter(r["Кластер ФИОКО"] for r in listed)
    )
    by_place = data["ШНОР по муниципальным образованиям и кластерам"]
    assert {(r["municipality_name"], r["fioko_cluster_ru"]): r["Число ШНОР"] for r in by_place} == (
        Counter((r["Муниципальное образование"], r["Кластер ФИОКО"]) for r in listed)
    )
    table = data["Список ШНОР"]
    assert [
        (
            r["municipality_name"],
            r["school_name"],
            r["school_id"],
            r["fioko_cluster_ru"],
            r["cluster_measure_percent"],
        )
        for r in table
    ] == [
        (
            r["Муниципальное образование"],
            r["Наименование ОО"],
            r["Код ОО (логин ФИС ОКО)"],
            r["Кластер ФИОКО"],
            float(r["Доля не преодолевших порог, %"]),
        )
        for r in listed
    ]

    with duckdb.connect(str(small_region.settings.serving_db), read_only=True) as con:
        year = con.execute(
            "select max(year) from marts.fct_isbsh where isbsh is not null"
        ).fetchone()[0]
        risk = con.execute(
            """select i.municipality_name, count(*) as n,
                      count(*) filter (where l.is_shnor) as shnor
               from marts.fct_isbsh as i
               left join marts.fct_shnor_list as l on l.school_id = i.school_id and l.list_year = i.year
               where i.year = ? and i.is_risk_zone
               group by 1""",
            [year],
        ).fetchall()
        year_to = con.execute("select max(year_to) from marts.fct_procedure_dynamics").fetchone()[0]
        dynamics = con.execute(
            """with region as (
                   select school_id from marts.dim_school_group
                   where group_code = 'region' and year = ?
               )
               select d.procedure_name_ru,
                      count(*) filter (where d.dynamics_type = 'positive') / (select count(*) from region),
                      count(*) filter (where d.dynamics_type = 'negative') / (select count(*) from region)
               from marts.fct_procedure_dynamics as d
               join region on region.school_id = d.school_id
               where d.year_to = ?
               group by 1""",
            [year_to, year_to],
        ).fetchall()
    zone = data["Школы «зоны риска» по муниципальным образованиям"]
    assert {
        r["municipality_name"]: (r["Школ «зоны риска»"], r["Из них ШНОР"])
        for r in zone
        if r["Школ «зоны риска»"]
    } == {m: (n, s) for m, n, s in risk}
    assert sum(r["Школ «зоны риска»"] for r in zone) > 0
    shares = {
        r["procedure_name_ru"]: (r["Положительная"], r["Отрицательная"])
        for r in data["Динамика по оценочным процедурам"]
    }
    assert set(shares) == {p for p, _, _ in dynamics}
    for procedure, positive, negative in dynamics:
        assert shares[procedure] == pytest.approx((positive, negative), abs=1e-12)


def test_superset_reads_the_serving_warehouse_with_its_own_duckdb_read_only(
    small_region, superset
) -> None:
    session = api(superset)
    databases = session.get(f"{superset.url}/api/v1/database/", timeout=30).json()["result"]
    duck = next(d for d in databases if d["backend"] == "duckdb")
    assert "только чтение" in duck["database_name"]

    def sql(statement: str) -> dict:
        return session.post(
            f"{superset.url}/api/v1/sqllab/execute/",
            json={
                "database_id": duck["id"],
                "sql": statement,
                "runAsync": False,
                "schema": "marts",
            },
            timeout=60,
        ).json()

    got = sql("select count(*) as n from marts.fct_shnor_list where is_shnor and list_year = 2025")
    assert got["data"] == [{"n": small_region.summary.list_size}], got
    refused = sql("delete from marts.fct_shnor_list")
    assert "data" not in refused or not refused.get("data"), refused
    outside = sql("select * from read_csv('/etc/passwd')")
    assert not outside.get("data"), outside  # no access to other files


def _browser(window: tuple[int, int]):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        f"--window-size={window[0]},{window[1]}",
        "--lang=ru-RU",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-default-apps",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    service = Service(shutil.which("chromedriver") or "/usr/bin/chromedriver")
    return webdriver.Chrome(service=service, options=options)


def _chart_states(driver) -> list[tuple[str, int, int, int]]:
    """(title, loading spinners, rendered elements, error alerts) of every chart on the page."""
    from selenium.webdriver.common.by import By

    out = []
    for holder in driver.find_elements(By.CSS_SELECTOR, ".dashboard-component-chart-holder"):
        if not holder.find_elements(By.CSS_SELECTOR, ".chart-slice, .chart-container"):
            continue  # the markdown block
        title = holder.find_elements(By.CSS_SELECTOR, ".header-title, [data-test='editable-title']")
        out.append(
            (
                title[0].text if title else "",
                len(holder.find_elements(By.CSS_SELECTOR, ".loading")),
                len(holder.find_elements(By.CSS_SELECTOR, "canvas, svg, table, .header-line")),
                len(
                    holder.find_elements(
                        By.CSS_SELECTOR, ".alert-danger, [data-test='error-message']"
                    )
                ),
            )
        )
    return out


def test_the_dashboard_renders_every_chart_in_chromium(superset, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver = _browser((1600, 1400))
    try:
        driver.get(f"{superset.url}/login/")
        WebDriverWait(driver, 60).until(lambda d: d.find_elements(By.ID, "username"))
        driver.find_element(By.ID, "username").send_keys("admin")
        driver.find_element(By.ID, "password").send_keys(superset.password)
        driver.find_element(By.ID, "password").submit()
        WebDriverWait(driver, 60).until(lambda d: "/login" not in d.current_url)
        driver.get(f"{superset.url}/superset/dashboard/{DASHBOARD}/")

        def rendered(d) -> bool:
            states = _chart_states(d)
            return len(states) == len(CHARTS) and all(
                loading == 0 and shown > 0 for _, loading, shown, _ in states
            )

        WebDriverWait(driver, 120, poll_frequency=0.5).until(rendered)
        states = _chart_states(driver)
        assert {title for title, *_ in states} == CHARTS
        assert all(errors == 0 for *_, errors in states), states
        assert driver.title == "ШНОР и зона риска — региональный центр"
        page = driver.find_element(By.TAG_NAME, "body").text
        assert "Дашборды" in page and "Редактировать дашборд" in page  # the interface in Russian

        # the whole dashboard in one picture
        for _ in range(3):  # the page may grow once the window is taller
            height = driver.execute_script("return document.documentElement.scrollHeight")
            driver.set_window_size(1600, max(1400, height + 200))
            WebDriverWait(driver, 60, poll_frequency=0.5).until(rendered)
        time.sleep(1.5)  # let the charts' resize animation settle before the picture
        screenshot = tmp_path / "superset_dashboard.png"
        assert driver.save_screenshot(str(screenshot))
        assert screenshot.stat().st_size > 50_000
        if os.environ.get("EDUQ_BI_SCREENSHOT"):
            shutil.copyfile(screenshot, ROOT / "docs" / "img" / "superset_dashboard.png")

        # nothing left the machine: every request to another host was blocked by the browser
        requested, blocked = {}, set()
        for entry in driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            params = message.get("params", {})
            if message["method"] == "Network.requestWillBeSent":
                requested[params["requestId"]] = params["request"]["url"]
            if message["method"] == "Network.loadingFailed" and params.get("blockedReason"):
                blocked.add(params["requestId"])
        outside = {
            rid: url
            for rid, url in requested.items()
            if not url.startswith((superset.url, "data:", "blob:"))
        }
        assert set(outside) <= blocked, outside
    finally:
        driver.quit()
