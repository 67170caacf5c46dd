"""Definitions printed under every figure: the rule, its parameters (from the methodology profile
the warehouse used), the profile and its version, and the date the data are as of."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from publishing.report.content import DASH, format_date, format_share
from publishing.small_numbers import FLAG_COLUMN, number_mark


@dataclass(frozen=True)
class Basis:
    profile: dict[str, Any]
    data_as_of: dt.date | None
    small_number_min: int | None = None  # of the published connection (small_numbers.py)

    def missing(self, row: Mapping[str, Any] | None) -> str:
        """What an empty cell of ``row`` shows: «<5» when small figures of the row were suppressed
        (the row's is_small_number_suppressed), else «—»."""
        if self.small_number_min and row is not None and row.get(FLAG_COLUMN):
            return number_mark(self.small_number_min)
        return DASH

    def small_number_note(self) -> str:
        """The footnote sentence of a table with suppressed cells."""
        n = self.small_number_min or 5
        return (
            f"«{number_mark(n)}» — скрыто: значение о группе менее чем из {n} обучающихся "
            "(защита малых чисел)."
        )

    @property
    def name(self) -> str:
        return str(self.profile.get("profile_name", ""))

    @property
    def version(self) -> str:
        return str(self.profile.get("profile_version", ""))

    def tail(self) -> str:
        return f"Методика: {self.name}, версия {self.version}. Данные по состоянию на {format_date(self.data_as_of)}."

    def p(self, name: str, default: Any = None) -> Any:
        return self.profile.get(name, default)


def _pct(value: Any) -> str:
    return format_share(float(value)) if value is not None else "?"


def shnor_rule(b: Basis, results_year: int) -> str:
    ge = "не менее" if b.p("threshold_inclusive", True) else "более"
    combine = "и" if b.p("rule_combination", "and") != "or" else "или"
    persistence = (
        f" {combine} хотя бы в одной и той же процедуре два года подряд ({results_year - 1} и {results_year})"
        if b.p("require_persistence", True)
        else ""
    )
    return (
        f"ШНОР — школа, где {ge} {_pct(b.p('fail_share_threshold'))} участников не преодолели минимальный "
        f"порог в {b.p('min_flagged_procedures')} и более процедурах {results_year} года{persistence} "
        f"(процедура учитывается при {b.p('min_participants')} и более участниках); список года Y строится по "
        "результатам года Y−1."
    )


def cluster_rule(b: Basis) -> str:
    moderate = _pct(b.p("cluster_moderate_from"))
    severe = _pct(b.p("cluster_severe_above"))
    m_ge = "от" if b.p("cluster_moderate_inclusive", True) else "более"
    s_ge = "от" if b.p("cluster_severe_inclusive", False) else "более"
    measure = {
        "flagged_pooled": "суммарная доля не преодолевших порог в отмеченных процедурах",
        "all_pooled": "суммарная доля не преодолевших порог во всех информативных процедурах",
        "flagged_mean": "средняя доля по отмеченным процедурам",
        "flagged_max": "наибольшая доля среди отмеченных процедур",
    }.get(str(b.p("cluster_measure")), str(b.p("cluster_measure")))
    return (
        f"Кластеры ФИОКО по мере «{measure}»: базово неуспевающие — до {moderate}; умеренно — {m_ge} {moderate} "
        f"до {severe}; сильно — {s_ge} {severe}."
    )


def transitions_rule(b: Basis) -> str:
    direction = {
        "neutral": "нейтральной",
        "positive": "положительной",
        "negative": "отрицательной",
    }.get(str(b.p("transition_not_listed_direction")), str(b.p("transition_not_listed_direction")))
    return (
        "Положительная динамика: переход в менее тяжёлый кластер («сильно → умеренно → базово») или выход из "
        "списка ШНОР; отрицательная: переход в более тяжёлый кластер или впервые в списке; нейтральная: кластер "
        f"не изменился. Школа вне списка оба года считается {direction}. Группа — участники программы на год "
        "предыдущего списка; реорганизованные школы учитываются с правопреемником."
    )


def dynamics_rule(b: Basis, year_from: int, year_to: int) -> str:
    tol = b.p("dynamics_tolerance") or 0
    tolerance = f" (изменение в пределах {_pct(tol)} — нейтральная)" if tol else ""
    return (
        f"Тип динамики по доле не преодолевших минимальный порог, {year_from} → {year_to}, в порядке проверки: "
        f"нет участников в одном из лет (менее {b.p('dynamics_min_participants')}) — «нет участников»; 0% оба "
        f"года; доля уменьшилась — положительная; увеличилась — отрицательная; не изменилась и не 0 — "
        f"нейтральная{tolerance}. «Показывают положительный результат» = положительная + 0% за 2 года. "
        "Знаменатель — все школы группы, включая школы без участников."
    )


def isbsh_rule(b: Basis) -> str:
    scope = {
        "region": "по региону",
        "municipality": "внутри МО",
        "locality": "по типу местности",
    }.get(str(b.p("isbsh_quartile_scope")), str(b.p("isbsh_quartile_scope")))
    return (
        f"ИСБШ (индекс социального благополучия школы): входы — доли обучающихся по социальному паспорту "
        f"(набор {b.p('isbsh_input_set')}, не менее {b.p('isbsh_min_inputs')} входов), z-оценки, среднее, "
        f"шкала {b.p('isbsh_scale_centre'):g} + {b.p('isbsh_scale_sd'):g}·z. Школа «зоны риска» (ШНСУ) — "
        f"квартиль {scope} не выше {b.p('isbsh_risk_zone_max_quartile')} (нижний квартиль)."
    )


def deficits_rule(b: Basis) -> str:
    return (
        f"Кадровый или инфраструктурный дефицит — выполнено хотя бы одно правило набора {b.p('deficit_rule_set')} "
        "по мониторингу ресурсов (вакансии, нагрузка, возраст педагогов, неспециалисты, специалисты для ОВЗ; "
        "интернет, состояние здания, коммуникации, спортзал, компьютеры, лаборатория)."
    )


def risk_profile_rule(b: Basis) -> str:
    return (
        f"Фактор риска (10 факторов проекта «500+»): средний балл ответов анкеты (0–1, набор "
        f"{b.p('risk_item_set')}); высокая значимость — от {b.p('risk_high_from')}, средняя — от "
        f"{b.p('risk_medium_from')}, ниже — низкая."
    )


def short_rules(b: Basis, results_year: int) -> str:
    """The rules of a school card's status in one line."""
    return (
        f"ШНОР: доля не преодолевших порог не ниже {_pct(b.p('fail_share_threshold'))} в "
        f"{b.p('min_flagged_procedures')}+ процедурах {results_year} г. и в одной процедуре два года подряд; "
        f"кластер по суммарной доле: до {_pct(b.p('cluster_moderate_from'))} базово, до "
        f"{_pct(b.p('cluster_severe_above'))} умеренно, выше — сильно. «Зона риска» — нижний квартиль ИСБШ по региону."
    )
