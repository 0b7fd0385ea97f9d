"""The fast codec is exact: on generated values, the C module and the Python code agree, and
typed -> plain -> typed gives back what went in (numbers digit for digit, sets, binary, empty
strings, nested maps and lists)."""

from __future__ import annotations

import base64
import json
from decimal import Decimal

import pytest
from hypothesis import given, settings, strategies as st

from dynaquery import values
from dynaquery.errors import Problem
from dynaquery.results import to_json

TAGS = sorted(values.TYPE_TAGS)

needs_c = pytest.mark.skipif(not values.ACCELERATED, reason="the C module is not built")

# ---------------------------------------------------------------------------------------------
# strategies

# DynamoDB numbers: up to 38 significant digits, exponents from -130 to +125.
digits = st.text("0123456789", min_size=1, max_size=38).map(lambda d: d.lstrip("0") or "0")
decimal_numbers = st.builds(
    lambda sign, d, exp: Decimal(f"{sign}{d}E{exp}"),
    st.sampled_from(["", "-"]),
    digits,
    st.integers(-130 + 38, 125 - 38),
)
int_numbers = st.integers(-(10**38) + 1, 10**38 - 1)
number_texts = st.one_of(
    int_numbers.map(str),
    decimal_numbers.map(str),
    st.builds(lambda a, b: f"{a}.{b}", st.integers(-(10**12), 10**12), digits),
)
names = st.text(max_size=8)
strings = st.text(max_size=12)  # the empty string included
blobs = st.binary(max_size=16)


def typed_values(binary_as_text: bool = False):
    """Typed AttributeValues as botocore parses them (B as bytes), or as the wire carries them
    (B as base64 text)."""
    blob = blobs.map(lambda b: base64.b64encode(b).decode()) if binary_as_text else blobs
    scalars = st.one_of(
        strings.map(lambda s: {"S": s}),
        number_texts.map(lambda n: {"N": n}),
        blob.map(lambda b: {"B": b}),
        st.booleans().map(lambda b: {"BOOL": b}),
        st.just({"NULL": True}),
        st.lists(strings, min_size=1, max_size=4, unique=True).map(lambda v: {"SS": v}),
        st.lists(number_texts, min_size=1, max_size=4, unique=True).map(lambda v: {"NS": v}),
        st.lists(blob, min_size=1, max_size=3, unique=True).map(lambda v: {"BS": v}),
    )
    return st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4).map(lambda v: {"L": v}),
            st.dictionaries(names, inner, max_size=4).map(lambda v: {"M": v}),
        ),
        max_leaves=20,
    )


def typed_items(binary_as_text: bool = False):
    return st.dictionaries(names, typed_values(binary_as_text), max_size=8)


plain_scalars = st.one_of(
    st.none(),
    st.booleans(),
    strings,
    int_numbers,
    decimal_numbers,
    st.floats(allow_nan=False, allow_infinity=False),
    blobs,
    st.frozensets(strings, max_size=3),
    st.frozensets(int_numbers, max_size=3),
    st.frozensets(blobs, max_size=3),
)
plain_values = st.recursive(
    plain_scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(names.filter(lambda k: k not in values.TYPE_TAGS), inner, max_size=4)
    ),
    max_leaves=20,
)
# Anything at all, typed or plain, right or wrong: the paths must agree on the problems too.
anything = st.recursive(
    plain_scalars
    | st.just(float("nan"))
    | st.just(Decimal("Infinity"))
    | st.just(object)
    | st.text(" 0123456789.eE+-_xa", max_size=6)
    | st.frozensets(st.integers() | strings, max_size=3),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(names, inner, max_size=3)
        | st.builds(
            lambda tag, v: {tag: v}, st.sampled_from(TAGS), inner | st.lists(inner, max_size=2)
        )
    ),
    max_leaves=12,
)


# ---------------------------------------------------------------------------------------------
# helpers


def reference_plain(av):
    """The careful, obviously right typed -> plain conversion."""
    return values._py_to_plain(av)


def same(a, b) -> bool:
    """Equal, and of the same types all the way down (1 is not 1.0, nor True, nor Decimal(1))."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, Decimal):
        return a.as_tuple() == b.as_tuple()
    if isinstance(a, float) and a != a:
        return b != b  # nan
    return a == b


def same_number_values(a, b) -> bool:
    """Typed values equal, numbers compared by value (-0 is 0, 1.50 is 1.5)."""
    # (A map's only attribute may be named "N" or "NS": then it holds a value, not digits.)
    if (
        isinstance(a, dict)
        and isinstance(b, dict)
        and list(a) == list(b) == ["N"]
        and isinstance(a["N"], str)
        and isinstance(b["N"], str)
    ):
        return Decimal(a["N"]) == Decimal(b["N"])
    if (
        isinstance(a, dict)
        and isinstance(b, dict)
        and list(a) == list(b) == ["NS"]
        and isinstance(a["NS"], list)
        and isinstance(b["NS"], list)
    ):
        return [Decimal(x) for x in a["NS"]] == [Decimal(x) for x in b["NS"]]
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same_number_values(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same_number_values(x, y) for x, y in zip(a, b))
    return a == b


def careful(value):
    problems: list[Problem] = []
    return values._py_to_typed(value, "Item", problems), problems


def with_fast(fast, value):
    problems: list[Problem] = []
    saved = values._fast_typed
    values._fast_typed = fast
    try:
        return values._to_typed(value, "Item", problems), problems
    finally:
        values._fast_typed = saved


# ---------------------------------------------------------------------------------------------
# typed -> plain


@given(typed_values())
def test_to_plain_agrees_with_the_reference(av):
    expected = reference_plain(av)
    assert same(values.to_plain(av), expected)


@given(typed_items())
def test_items_to_plain_agree(item):
    expected = {k: reference_plain(v) for k, v in item.items()}
    assert same(values.item_to_plain(item), expected)
    assert same(values.items_to_plain([item, item])[1], expected)
    assert same(values._py_items_to_plain([item])[0], expected)


@given(typed_items())
def test_items_as_json_text_are_what_to_json_writes(item):
    expected = to_json({k: reference_plain(v) for k, v in item.items()}, pretty=False)
    assert values.items_jsonl([item]) == (expected + "\n").encode()
    assert values._py_items_jsonl([item]) == (expected + "\n").encode()
    assert values.item_json(item) == expected
    assert values.items_jsonl([item, item], ",") == (expected + "," + expected + ",").encode()


@given(typed_items(binary_as_text=False))
def test_the_wire_form_gives_the_same_plain_values(item):
    """As JSON carries them, binary values are base64 text: the result is the same."""
    wire = json.loads(json.dumps(item, default=lambda b: base64.b64encode(b).decode()))
    assert same(values.item_to_plain(wire), values.item_to_plain(item))
    assert values.items_jsonl([wire]) == values.items_jsonl([item])


@given(number_texts)
def test_numbers_keep_every_digit(text):
    plain = values.to_plain({"N": text})
    assert isinstance(plain, (int, Decimal)) and not isinstance(plain, bool)
    assert Decimal(plain) == Decimal(text)
    assert same(plain, values.number(text))
    assert json.loads(values.item_json({"n": {"N": text}}), parse_float=Decimal)["n"] == plain


# ---------------------------------------------------------------------------------------------
# plain -> typed


@given(plain_values)
def test_to_typed_agrees_with_the_careful_path(value):
    expected, problems = careful(value)
    assert not problems
    assert same(values._to_typed(value, "Item", []), expected)


@given(anything)
@settings(max_examples=300)
def test_problems_are_the_same_on_every_path(value):
    expected = careful(value)
    if values.ACCELERATED:
        fast_c = with_fast(values._codec.fast_typed, value)
        assert same(fast_c[0], expected[0]) and fast_c[1] == expected[1]


@given(typed_values())
def test_typed_values_stay_as_they_are(av):
    assert same(values.to_typed(av), av)


@given(typed_values(binary_as_text=True))
def test_typed_json_round_trips(av):
    """A typed value written as JSON (binary in base64) and read back is the same value."""
    text = json.dumps(av)
    back = values.to_typed(json.loads(text, parse_float=Decimal))
    expected = values._py_to_typed(json.loads(text), "", [])
    assert same(back, expected)
    assert same(values.to_plain(back), values.to_plain(av))


# Plain values that have a plain form: no sets, no binary, no map whose only key is a tag.
round_trippable = st.recursive(
    st.none() | st.booleans() | strings | int_numbers | decimal_numbers,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(names.filter(lambda k: k not in values.TYPE_TAGS), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(round_trippable)
def test_plain_json_round_trips_exactly(value):
    typed = values.to_typed(value)
    text = values.item_json({"v": typed})
    back = json.loads(text, parse_float=Decimal)["v"]
    assert same_number_values(values.to_typed(back), typed)
    assert same(back, values.to_plain(typed))


# ---------------------------------------------------------------------------------------------
# the edges, spelled out


@pytest.mark.parametrize(
    "text, plain",
    [
        ("12345678901234567890123456789012345678", 12345678901234567890123456789012345678),
        ("-12345678901234567890123456789012345678", -12345678901234567890123456789012345678),
        ("999999999999999999", 999999999999999999),
        ("-99999999999999999", -99999999999999999),
        ("0", 0),
        ("-0", 0),
        ("007", 7),
        ("0.1", Decimal("0.1")),
        ("61.130570", Decimal("61.130570")),
        ("1E+125", Decimal("1E+125")),
        ("1E-130", Decimal("1E-130")),
    ],
)
def test_number_edges(text, plain):
    assert same(values.to_plain({"N": text}), plain)
    assert same(values._py_to_plain({"N": text}), plain)
    assert values.item_json({"n": {"N": text}}) == to_json({"n": plain}, pretty=False)


def test_string_edges():
    for s in ["", "\x00\x1f", 'quote " and \\ backslash', "\n\r\t\b\f", "ünïcödé ✓ 𝄞", "\u2028"]:
        assert values.item_json({"s": {"S": s}}) == to_json({"s": s}, pretty=False)
        assert json.loads(values.item_json({"s": {"S": s}}))["s"] == s
        assert values.to_typed(s) == {"S": s}


def test_sets_and_binary():
    assert values.to_typed({"a", "b"}) == {"SS": ["a", "b"]}
    assert values.to_typed(frozenset({b"\x01", b"\x00"})) == {"BS": [b"\x00", b"\x01"]}
    assert values.to_typed({"NS": ["1", 2, Decimal("3.5")]}) == {"NS": ["1", "2", "3.5"]}
    assert values.to_typed({"BS": ["AAE="]}) == {"BS": [b"\x00\x01"]}
    assert values.to_plain({"BS": [b"\x00\x01", "AAE="]}) == ["AAE=", "AAE="]
    assert values.item_json({"b": {"B": b"\xff"}, "e": {"B": b""}}) == '{"b":"/w==","e":""}'
    problems: list[Problem] = []
    values.to_typed({"s": {1, "a"}}, "Item", problems)
    assert [p.path for p in problems] == ["Item.s"]


def test_errors_are_those_of_the_python_code():
    with pytest.raises(ValueError, match="unknown AttributeValue type 'X'"):
        values.to_plain({"X": 1})
    with pytest.raises(ValueError):
        values.to_plain({"S": "a", "N": "1"})
    with pytest.raises(ValueError, match="unknown AttributeValue type"):
        values.items_jsonl([{"a": {"M": {"b": {"Y": 1}}}}])


@needs_c
def test_the_c_module_is_used():
    assert values.to_plain is values._codec.to_plain


@given(st.lists(typed_items(), max_size=4))
def test_lossy_items_are_counted_alike(items):
    c_count: list[int] = []
    python_count: list[int] = []
    assert values.items_jsonl(items, "\n", c_count) == values._py_items_jsonl(
        items, "\n", python_count
    )
    assert c_count == python_count
    # and the count is right: an item is counted when its plain JSON does not read back as it
    expected = 0
    for item in items:
        back = json.loads(values.item_json(item), parse_float=Decimal)
        problems: list[Problem] = []
        typed = {k: values._to_typed(v, k, problems) for k, v in back.items()}
        if problems or not same_number_values(typed, item):
            expected += 1
    assert c_count == [expected]


@given(st.lists(typed_items(), max_size=4))
def test_typed_json_is_what_json_writes(items):
    expected = values._py_typed_json_items(items, b"<", b">", b",")
    assert values.typed_json_items(items, b"<", b">", b",") == expected
    if items:
        text = expected.decode()
        assert json.loads("[" + text.replace(">,<", ",")[1:-1] + "]") == json.loads(
            json.dumps(items, default=lambda b: base64.b64encode(b).decode())
        )


def test_typed_json_of_odd_values_is_python_s():
    odd = [
        {
            "a": {"N": Decimal("1.5")},
            "b": {"SS": ("x",)},
            "c": {"X": 1},
            "d": {"BS": [bytearray(b"1")]},
        }
    ]
    expected = values._py_typed_json_items(odd, b"", b"", b"")
    assert values.typed_json_items(odd, b"", b"", b"") == expected


@needs_c
def test_deep_nesting_is_a_recursion_error_not_a_crash():
    # A value nested far past the C stack's depth once crashed the process (SIGSEGV) in each of
    # the codec's recursive paths; now each raises RecursionError as the Python code does.
    import subprocess
    import sys

    script = """
from dynaquery import values
plain, typed = "x", {"S": "x"}
for _ in range(200_000):
    plain, typed = {"a": plain}, {"M": {"a": typed}}
calls = [("item_to_typed", lambda: values.item_to_typed({"k": plain})),
         ("item_to_plain", lambda: values.item_to_plain({"k": typed})),
         ("item_json", lambda: values.item_json({"k": typed})),
         ("typed_json", lambda: values.typed_json_items([{"k": typed}], b"", b"", b"")),]
for name, call in calls:
    try:
        call()
        print(name, "converted")
    except RecursionError:
        print(name, "RecursionError")
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split("\n")[:4] == [
        f"{name} RecursionError"
        for name in ("item_to_typed", "item_to_plain", "item_json", "typed_json")
    ]
