"""Properties of the evaluator over generated inputs: arithmetic agrees with exact arithmetic, text
round-trips, printed trees parse back to themselves, and no input makes it fail with anything but a
``PowerFxError``.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from itertools import pairwise

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devstack.jobrouter.powerfx import PowerFxError, compile_expression, evaluate
from devstack.jobrouter.powerfx.syntax_parser import parse
from devstack.jobrouter.powerfx.syntax_tree import (
    BinaryOperation,
    BinaryOperator,
    BooleanLiteral,
    Call,
    FieldAccess,
    Interpolation,
    Name,
    Node,
    NumberLiteral,
    TextLiteral,
    UnaryOperation,
    UnaryOperator,
    to_source,
)

FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

integers = st.integers(min_value=-(10**12), max_value=10**12)
decimals = st.decimals(
    min_value=Decimal("-1e15"), max_value=Decimal("1e15"), places=10, allow_nan=False, allow_infinity=False
)


def literal(number: Decimal | int) -> str:
    text = format(Decimal(number), "f")
    return f"({text})" if text.startswith("-") else text


@FAST
@given(integers, integers)
def test_whole_number_arithmetic_is_exact(a: int, b: int) -> None:
    assert evaluate(f"{literal(a)} + {literal(b)}", job_labels={}) == a + b
    assert evaluate(f"{literal(a)} - {literal(b)}", job_labels={}) == a - b
    assert evaluate(f"{literal(a)} * {literal(b)}", job_labels={}) == a * b


@FAST
@given(integers, integers.filter(lambda n: n != 0))
def test_division_is_within_decimal_precision_of_the_exact_quotient(a: int, b: int) -> None:
    result = evaluate(f"{literal(a)} / {literal(b)}", job_labels={})

    assert isinstance(result, Decimal)
    exact = Fraction(a, b)
    assert abs(Fraction(result) - exact) <= Fraction(1, 10**26) * max(Fraction(1), abs(exact))


@FAST
@given(decimals, decimals)
def test_decimal_sum_and_comparison_agree_with_python_decimal(a: Decimal, b: Decimal) -> None:
    labels = {"a": a, "b": b}

    assert evaluate("job.a + job.b", job_labels=labels) == a + b
    assert evaluate("job.a < job.b", job_labels=labels) is (a < b)
    assert evaluate("job.a = job.b", job_labels=labels) is (a == b)


@FAST
@given(decimals)
def test_number_text_round_trips(a: Decimal) -> None:
    assert evaluate("Value(Text(job.a))", job_labels={"a": a}) == a
    assert evaluate(literal(a), job_labels={}) == a


# A quoted name may hold any character but a line break (Power Fx ends an identifier there).
names = st.text(st.characters(exclude_characters="\n\r\u2028\u2029\x85"), min_size=1, max_size=8).filter(
    lambda name: name.strip() != ""
)
leaves: st.SearchStrategy[Node] = st.one_of(
    st.builds(
        lambda n: NumberLiteral(format(n, "f"), n),
        st.decimals(min_value=0, max_value=10**6, places=3, allow_nan=False, allow_infinity=False),
    ),
    st.builds(TextLiteral, st.text(max_size=8)),
    st.builds(BooleanLiteral, st.booleans()),
    st.builds(lambda label: FieldAccess(Name("job"), label), names),
)


def _extend(children: st.SearchStrategy[Node]) -> st.SearchStrategy[Node]:
    return st.one_of(
        st.builds(UnaryOperation, st.sampled_from(UnaryOperator), children),
        st.builds(BinaryOperation, st.sampled_from(BinaryOperator), children, children),
        st.builds(
            Call,
            st.sampled_from(["If", "And", "Or", "Not", "Len", "Coalesce"]),
            st.tuples(children, children),
        ),
        st.builds(
            lambda parts: Interpolation(tuple(parts)),
            st.lists(st.one_of(st.text(min_size=1, max_size=4), children), max_size=3).filter(
                # the tokenizer reads adjacent text as one segment, so no parsed tree has two in a row
                lambda parts: not any(isinstance(x, str) and isinstance(y, str) for x, y in pairwise(parts))
            ),
        ),
    )


trees = st.recursive(leaves, _extend, max_leaves=6)


@FAST
@given(trees)
def test_printed_tree_parses_back_to_itself(tree: Node) -> None:
    printed = to_source(tree)

    assert parse(printed) == tree
    assert to_source(parse(printed)) == printed


@FAST
@given(trees, st.dictionaries(names, st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=5))))
def test_any_tree_either_evaluates_or_raises_a_power_fx_error(tree: Node, labels: dict[str, object]) -> None:
    try:
        result = compile_expression(to_source(tree)).evaluate(job_labels=labels)
    except PowerFxError:
        return
    assert result is None or isinstance(result, (Decimal, float, str, bool))


power_fx_ish = st.text(
    alphabet=st.sampled_from(list("01.5e+-*/^%&=<>!(),'\"$ {}[]:;@#abIfLenjob.")), max_size=30
)


@FAST
@given(st.one_of(st.text(max_size=30), power_fx_ish))
def test_any_text_either_compiles_or_raises_a_power_fx_error(text: str) -> None:
    try:
        result = compile_expression(text).evaluate(job_labels={"a": "1"})
    except PowerFxError:
        return
    assert result is None or isinstance(result, (Decimal, float, str, bool))


number_texts = st.from_regex(r"\A[0-9]{1,40}(\.[0-9]{0,40})?([eE][+-]?[0-9]{1,15})?\Z")


@FAST
@given(number_texts, st.one_of(st.floats(), st.integers(), st.decimals()))
def test_any_number_literal_or_label_either_evaluates_or_raises_a_power_fx_error(
    literal_text: str, label: object
) -> None:
    for expression, labels in ((literal_text, {}), (f'Value("{literal_text}") + job.n', {"n": label})):
        try:
            result = evaluate(expression, job_labels=labels)
        except PowerFxError:
            continue
        assert isinstance(result, Decimal)
