"""The mutation report: classifications are checked, survivors are equivalent or gaps, scores add up."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.mutation_report import Equivalent, ModuleResult, ReportError, Survivor, load_equivalents, render

NAME = "offer_handlers.execute.x_carry_out__mutmut_30"
GOOD = '["{name}"]\nkind = "assert-never"\nreason = "unreachable"\nmutated = "assert_never(None)"\n'


def survivor(equivalent: Equivalent | None = None, *, stale: bool = False, name: str = NAME) -> Survivor:
    return Survivor(name, "survived", ("assert_never(decision)",), ("assert_never(None)",), equivalent, stale)


def result(*survivors: Survivor, killed: int = 90, type_checked: int = 5, not_run: int = 0) -> ModuleResult:
    total = killed + type_checked + not_run + len(survivors)
    return ModuleResult("offer_handlers/execute.py", total, killed, type_checked, not_run, survivors, None)


def test_a_classification_file_is_read_by_mutant_name(tmp_path: Path) -> None:
    path = tmp_path / "eq.toml"
    path.write_text(GOOD.format(name=NAME), encoding="utf-8")

    assert load_equivalents(path) == {NAME: Equivalent("assert-never", "unreachable", "assert_never(None)")}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (GOOD.replace("assert-never", "looks-fine"), "kind 'looks-fine' is not one of"),
        (GOOD.replace('reason = "unreachable"', 'reason = " "'), "needs a reason"),
        (GOOD.replace('mutated = "assert_never(None)"\n', ""), "needs exactly kind, reason and mutated"),
        ("[x\n", "cannot read"),
    ],
    ids=["unknown-kind", "blank-reason", "no-mutated-line", "not-toml"],
)
def test_a_classification_without_a_known_kind_a_reason_and_the_line_is_refused(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "eq.toml"
    path.write_text(text.format(name=NAME), encoding="utf-8")

    with pytest.raises(ReportError, match=message):
        load_equivalents(path)


def test_the_score_counts_detected_over_every_mutant_not_equivalent() -> None:
    classified = Equivalent("assert-never", "unreachable", "assert_never(None)")
    module = result(survivor(classified), survivor(name="g1"), survivor(name="g2"), not_run=3)

    assert (module.equivalent, module.gaps) == (1, 2)
    assert module.score == pytest.approx(95 / 97)


def test_a_stale_classification_counts_as_a_gap() -> None:
    module = result(survivor(Equivalent("equivalent", "was the same", "old line"), stale=True))

    assert (module.equivalent, module.gaps) == (0, 1)


def test_a_module_where_nothing_ran_has_no_score() -> None:
    assert result(killed=0, type_checked=0, not_run=7).score is None


def test_the_report_lists_every_survivor_with_its_verdict_and_change() -> None:
    classified = Equivalent("assert-never", "unreachable", "assert_never(None)")
    text = render([result(survivor(classified), survivor(name="m.x_f__mutmut_2"))], {NAME: classified})

    assert "| offer_handlers/execute.py | 97 | 90 | 5 | 1 | 1 | 0 | 99.0% | - |" in text
    assert (
        "- `x_carry_out__mutmut_30` (survived): equivalent, an unreachable assert_never branch: unreachable."
        in text
    )
    assert "- `x_f__mutmut_2` (survived): **gap**. `- assert_never(decision)`; `+ assert_never(None)`" in text


def test_the_report_names_classifications_that_match_no_survivor() -> None:
    unused = {"m.x_gone__mutmut_1": Equivalent("equivalent", "r", "x")}

    assert "`m.x_gone__mutmut_1`" in render([result()], unused)
