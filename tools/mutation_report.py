"""``python -m tools.mutation_report``: MUTATION.md from the results ``mutmut run`` left in mutants/.

Every mutant of ``offer_handlers/`` is detected (killed by tests/unit or tests/functional, timed out,
or rejected by mypy --strict, which ``make typecheck`` would refuse), or it is not: then it is either
classified in mutation-equivalents.toml as equivalent, with the reason, or it is a gap. A module's
score is its detected mutants over its non-equivalent ones. ``--stubs`` prints a TOML entry for each
unclassified survivor (to review and fill in); ``--names`` prints the names of the mutants not detected or
not run yet, to run them again: ``make mutation MUTANTS="$(python -m tools.mutation_report --names)"``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tomllib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Final

ROOT: Final = Path(__file__).resolve().parent.parent
PACKAGE: Final = "offer_handlers"
EQUIVALENTS: Final = ROOT / "mutation-equivalents.toml"
REPORT: Final = ROOT / "MUTATION.md"
TARGET: Final = 0.95
# Why a surviving mutant may be left alive; anything else is a gap.
KINDS: Final = {
    "equivalent": "behaves exactly as the original",
    "assert-never": "an unreachable assert_never branch",
    "redundant-guard": "a guard another check already enforces",
    "message-text": "message text deliberately not pinned",
}
# mutmut's exit codes (mutmut.stats.status_by_exit_code), grouped as the report counts them.
_KILLED: Final = frozenset({1, 3, 24, -24, 152, 255, 36})  # killed, or timed out
_TYPE_CHECKED: Final = 37
_NOT_RUN: Final = frozenset({None, 2, 34})  # not checked yet, interrupted, skipped
_NO_TESTS: Final = frozenset({5, 33})


@dataclass(frozen=True, slots=True)
class Equivalent:
    """A reviewed survivor: ``mutated`` is its changed line, so a renumbered mutant is not mistaken."""

    kind: str
    reason: str
    mutated: str


@dataclass(frozen=True, slots=True)
class Survivor:
    """A mutant that no test and no type check detected."""

    name: str
    status: str
    removed: tuple[str, ...]
    added: tuple[str, ...]
    equivalent: Equivalent | None
    stale: bool  # classified, but the classification's line no longer matches the mutant


@dataclass(frozen=True, slots=True)
class ModuleResult:
    """One module's counts and survivors."""

    path: str
    total: int
    killed: int
    type_checked: int
    not_run: int
    survivors: tuple[Survivor, ...]
    written: datetime | None
    not_run_names: tuple[str, ...] = ()

    @property
    def equivalent(self) -> int:
        """Survivors classified as equivalent (with a classification that still matches)."""
        return sum(1 for s in self.survivors if s.equivalent is not None and not s.stale)

    @property
    def gaps(self) -> int:
        """Survivors that are not equivalent."""
        return len(self.survivors) - self.equivalent

    @property
    def score(self) -> float | None:
        """Detected over non-equivalent mutants that ran (None: nothing ran)."""
        counted = self.killed + self.type_checked + self.gaps
        return (self.killed + self.type_checked) / counted if counted else None


class ReportError(Exception):
    """Bad input (no results, an invalid classification file): printed as one line, exit code 2."""


def load_equivalents(path: Path) -> dict[str, Equivalent]:
    """The classifications in ``path``: one table per mutant name with ``kind``, ``reason``, ``mutated``."""
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise ReportError(f"cannot read {path.name}: {err}") from None
    result: dict[str, Equivalent] = {}
    for name, entry in document.items():
        if not isinstance(entry, dict) or set(entry) != {"kind", "reason", "mutated"}:
            raise ReportError(f"{path.name}: [{name!r}] needs exactly kind, reason and mutated")
        kind, reason, mutated = entry["kind"], entry["reason"], entry["mutated"]
        if kind not in KINDS:
            raise ReportError(f"{path.name}: [{name!r}] kind {kind!r} is not one of {', '.join(KINDS)}")
        if not isinstance(reason, str) or not reason.strip() or not isinstance(mutated, str):
            raise ReportError(f"{path.name}: [{name!r}] needs a reason and the mutated line (strings)")
        result[name] = Equivalent(kind, reason.strip(), mutated.strip())
    return result


def changed_lines(name: str, source: Path) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The lines a mutant removes and adds, as ``mutmut show`` prints them."""
    from mutmut.mutation.diff_apply import get_diff_for_mutant

    diff = get_diff_for_mutant(name, path=source).splitlines()
    body = [line for line in diff if not line.startswith(("---", "+++", "@@"))]
    removed = tuple(line[1:].strip() for line in body if line.startswith("-"))
    added = tuple(line[1:].strip() for line in body if line.startswith("+"))
    return removed, added


def module_result(meta: Path, equivalents: Mapping[str, Equivalent]) -> ModuleResult:
    """Read one module's mutmut results and classify its survivors."""
    codes: dict[str, int | None] = json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"]
    source = Path(PACKAGE) / meta.name.removesuffix(".meta")
    not_run = sum(1 for c in codes.values() if c in _NOT_RUN)
    survivors = []
    for name, code in sorted(codes.items(), key=lambda item: _natural(item[0])):
        if code in _KILLED or code == _TYPE_CHECKED or code in _NOT_RUN:
            continue
        removed, added = changed_lines(name, source)
        equivalent = equivalents.get(name)
        stale = equivalent is not None and equivalent.mutated != (added[0] if added else "")
        status = "no tests" if code in _NO_TESTS else "survived" if code == 0 else f"unclear ({code})"
        survivors.append(Survivor(name, status, removed, added, equivalent, stale))
    return ModuleResult(
        path=str(source),
        total=len(codes),
        killed=sum(1 for c in codes.values() if c in _KILLED),
        type_checked=sum(1 for c in codes.values() if c == _TYPE_CHECKED),
        not_run=not_run,
        survivors=tuple(survivors),
        written=datetime.fromtimestamp(meta.stat().st_mtime, UTC) if len(codes) > not_run else None,
        not_run_names=tuple(name for name, code in codes.items() if code in _NOT_RUN),
    )


def _natural(name: str) -> tuple[str, int]:
    stem, _, number = name.rpartition("__mutmut_")
    return stem, int(number) if number.isdigit() else 0


def collect(mutants: Path, equivalents: Mapping[str, Equivalent]) -> list[ModuleResult]:
    """Every module's result, in file order; raises ``ReportError`` when mutmut has not run yet."""
    metas = sorted((mutants / PACKAGE).glob("*.py.meta"))
    if not metas:
        raise ReportError(f"no results under {mutants}/{PACKAGE}: run `make mutation` first")
    return [module_result(meta, equivalents) for meta in metas]


def render(results: Sequence[ModuleResult], equivalents: Mapping[str, Equivalent]) -> str:
    """MUTATION.md: the method, a table of every module, then every survivor and its classification."""
    lines = [*_preamble(), *_table(results), ""]
    unused = sorted(set(equivalents) - {s.name for r in results for s in r.survivors})
    if unused:
        lines += [
            "Classifications in mutation-equivalents.toml that no longer match a survivor (killed now, or",
            "renumbered): " + ", ".join(f"`{name}`" for name in unused),
            "",
        ]
    lines += ["## Every mutant that survived", ""]
    for result in results:
        if result.survivors:
            lines += [f"### {result.path}", "", *(_survivor(s) for s in result.survivors), ""]
    return "\n".join(lines).rstrip() + "\n"


def _preamble() -> list[str]:
    return [
        "# Mutation testing of offer_handlers/",
        "",
        "Written by `make mutation` (`tools/mutation_report.py` reads the results `mutmut run` leaves in",
        f"`mutants/`; mutmut {version('mutmut')}, `[tool.mutmut]` in pyproject.toml). Each mutant is one",
        "small change to the product code. It is *detected* when tests/unit or tests/functional fail (or",
        "time out) with it, or when mypy --strict rejects it (the typecheck gate would refuse it; those ran",
        "no tests). A mutant that is not detected is either *equivalent* (classified, with the reason, in",
        "`mutation-equivalents.toml`) or a *gap*. The score is detected / (mutants - equivalent - not run);",
        f"the target is {TARGET:.0%} in every module. *Results from* is when the module's last result was",
        "written: modules run at different times (`make mutation MUTANTS='offer_handlers.execute.*'`)",
        "show different times.",
        "",
    ]


def _table(results: Sequence[ModuleResult]) -> list[str]:
    rows = [
        "| module | mutants | killed by tests | rejected by mypy | equivalent | gaps | not run | score "
        "| results from (UTC) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        written = r.written.strftime("%Y-%m-%d %H:%M") if r.written else "-"
        rows.append(
            f"| {r.path} | {r.total} | {r.killed} | {r.type_checked} | {r.equivalent} | {r.gaps} "
            f"| {r.not_run} | {_percent(r.score)} | {written} |"
        )
    totals = ModuleResult(
        path="**all**",
        total=sum(r.total for r in results),
        killed=sum(r.killed for r in results),
        type_checked=sum(r.type_checked for r in results),
        not_run=sum(r.not_run for r in results),
        survivors=tuple(s for r in results for s in r.survivors),
        written=None,
    )
    rows.append(
        f"| {totals.path} | {totals.total} | {totals.killed} | {totals.type_checked} | {totals.equivalent} "
        f"| {totals.gaps} | {totals.not_run} | {_percent(totals.score)} | |"
    )
    kinds = Counter(s.equivalent.kind for s in totals.survivors if s.equivalent and not s.stale)
    return [*rows, "", "Equivalent, by kind: " + _kinds(kinds)]


def _kinds(kinds: Counter[str]) -> str:
    return ", ".join(f"{KINDS[k]} ({kinds[k]})" for k in KINDS if kinds[k]) or "none"


def _percent(score: float | None) -> str:
    return "-" if score is None else f"{score:.1%}"


def _survivor(survivor: Survivor) -> str:
    short = survivor.name.rpartition(".")[2]
    removed = (f"`- {_cap(x)}`" for x in survivor.removed)
    change = "; ".join([*removed, *(f"`+ {_cap(x)}`" for x in survivor.added)])
    if survivor.equivalent is None:
        verdict = "**gap**"
    elif survivor.stale:
        verdict = "**gap** (its classification names another change: review it)"
    else:
        verdict = f"equivalent, {KINDS[survivor.equivalent.kind]}: {survivor.equivalent.reason}"
    return f"- `{short}` ({survivor.status}): {verdict}. {change}"


def _cap(text: str, limit: int = 150) -> str:
    return (text if len(text) <= limit else text[:limit] + "...").replace("`", "'")


def stubs(results: Iterable[ModuleResult]) -> str:
    """A TOML entry for every unclassified survivor, to review and complete."""
    entries = []
    for survivor in (s for r in results for s in r.survivors if s.equivalent is None or s.stale):
        mutated = survivor.added[0] if survivor.added else ""
        entries.append(
            f'[{json.dumps(survivor.name, ensure_ascii=False)}]\nkind = ""\nreason = ""\n'
            f"mutated = {json.dumps(mutated, ensure_ascii=False)}\n"
        )
    return "\n".join(entries)


def main(argv: Sequence[str] | None = None) -> int:
    """Write MUTATION.md (or print stubs or names); returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m tools.mutation_report", description=__doc__)
    parser.add_argument("--mutants", type=Path, default=ROOT / "mutants", help="mutmut's working copy")
    parser.add_argument("--output", type=Path, default=REPORT, help="the report to write")
    choice = parser.add_mutually_exclusive_group()
    choice.add_argument("--stubs", action="store_true", help="print TOML stubs for unclassified survivors")
    choice.add_argument(
        "--names", action="store_true", help="print the names of every mutant not detected or not run yet"
    )
    args = parser.parse_args(argv)
    try:
        equivalents = load_equivalents(EQUIVALENTS) if EQUIVALENTS.exists() else {}
        results = collect(args.mutants, equivalents)
    except ReportError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.stubs:
        print(stubs(results), end="")
    elif args.names:
        print("\n".join(name for r in results for name in (*(s.name for s in r.survivors), *r.not_run_names)))
    else:
        args.output.write_text(render(results, equivalents), encoding="utf-8")
        for r in results:
            print(f"{r.path}: {_percent(r.score)} ({r.gaps} gaps, {r.not_run} not run)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
