"""The fast codec is exact: on generated values, the C module and the Python code agree, and
typed -> plain -> typed gives back what went in (numbers digit for digit, sets, binary, empty
strings, nested maps and lists)."""

from __future__ import annotations

import base64
import json
import os
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

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


# ---------------------------------------------------------------------------------------------
# a page's raw body -> plain JSON lines (_codec.page_lines, the export's transcoder)

needs_transcoder = pytest.mark.skipif(
    not values.ACCELERATED or not hasattr(values._codec, "page_lines"),
    reason="the C module is not built",
)


def page_body(items, ensure_ascii: bool = False, blank: str = "", **members) -> bytes:
    """A Scan answer's body as a server writes it (items typed, binary as base64 text)."""
    page = {"Count": len(items), "Items": items, **members, "ScannedCount": len(items)}
    separators = ("," + blank, ":" + blank)
    text = json.dumps(page, ensure_ascii=ensure_ascii, separators=separators)
    return text.encode("utf-8")


def python_page(body: bytes, separator: str = "\n"):
    """What the export wrote before the transcoder: the page parsed (botocore_hooks.page_items),
    its items written by the pure Python code. (lines, count, lossy, other members)."""
    from dynaquery._speed.botocore_hooks import page_items

    rest: dict = {}
    items = list(page_items(body, rest))
    lossy: list[int] = []
    lines = values._py_items_jsonl(items, separator, lossy)
    return lines, len(items), lossy[0], rest


def c_page(body: bytes, separator: str = "\n"):
    """The transcoder, with the Python path for the pages it declines (as the export does)."""
    done = values._codec.page_lines(body, separator.encode())
    if done is None:
        return python_page(body, separator)
    lines, count, lossy, rest = done
    return lines, count, lossy, json.loads(rest)


# Values whose plain JSON tests every rule: numbers written by int() and str(Decimal), sets,
# binary, escapes, non-ASCII text (and astral, as surrogate pairs when escaped), nested maps
# and lists, a map that reads back as a typed value.
RICH_ITEM = {
    "pk": {"S": "key"},
    "int": {"N": "12345678901234567890123456789012345678"},
    "negative": {"N": "-99999999999999999999999999999999999999"},
    "zeros": {"N": "-000"},
    "leading": {"N": "007"},
    "decimal": {"N": "61.130570"},
    "small": {"N": "0.0000001"},
    "tiny": {"N": "1E-130"},
    "huge": {"N": "9.9999999999999999999999999999999999999E+125"},
    "exp": {"N": "1e5"},
    "negative zero": {"N": "-0.0"},
    "fraction zeros": {"N": "0.000"},
    "mixed": {"N": "-12.5e-3"},
    "text": {"S": 'quote " backslash \\ slash / \n\r\t\b\f \x00\x1f \x7f é ✓ 𝄞 \u2028'},
    "empty": {"S": ""},
    "true": {"BOOL": True},
    "false": {"BOOL": False},
    "null": {"NULL": True},
    "ss": {"SS": ["a", "é", "𝄞"]},
    "ns": {"NS": ["1", "-2.50", "3E+2"]},
    "b": {"B": "AAH/"},
    "bs": {"BS": ["AA==", ""]},
    "m": {"M": {"a": {"L": [{"N": "1"}, {"M": {}}, {"L": []}, {"SS": ["x"]}]}, "é\n": {"S": "x"}}},
    "tag map": {"M": {"S": {"S": "looks typed"}}},
    '"odd\\name\t✓': {"N": "1"},
}


@needs_transcoder
@pytest.mark.parametrize("separator", ["\n", ",\n"])
@pytest.mark.parametrize("ensure_ascii", [False, True])
@pytest.mark.parametrize("blank", ["", " ", "\n\t "])
def test_a_rich_page_is_written_byte_for_byte_as_python_writes_it(separator, ensure_ascii, blank):
    items = [RICH_ITEM, {"pk": {"S": "only"}}, {}, {k: RICH_ITEM[k] for k in ["m", "ns"]}]
    key = {"pk": {"S": "é"}, "sk": {"N": "7"}, "b": {"B": "AAE="}}
    body = page_body(items, ensure_ascii, blank, LastEvaluatedKey=key)
    done = values._codec.page_lines(body, separator.encode())
    assert done is not None
    expected = python_page(body, separator)
    assert (done[0], done[1], done[2], json.loads(done[3])) == expected
    assert expected[1] == 4 and expected[2] == 2 and expected[3]["LastEvaluatedKey"] == key
    assert expected[0] == values.items_jsonl(items, separator)  # the C writer of parsed items


@needs_transcoder
@given(st.lists(typed_items(binary_as_text=True), max_size=4), st.booleans())
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_generated_pages_are_written_as_python_writes_them(items, ensure_ascii):
    body = page_body(items, ensure_ascii, LastEvaluatedKey={"k": {"S": "x"}})
    done = values._codec.page_lines(body)
    assert done is not None  # all regular: nothing left to Python
    assert (done[0], done[1], done[2], json.loads(done[3])) == python_page(body)


@needs_transcoder
@given(number_texts | st.text("0123456789.eE+-", min_size=1, max_size=12))
@settings(max_examples=500, deadline=None)
def test_numbers_are_written_as_int_or_str_decimal(text):
    body = page_body([{"n": {"N": text}}, {"ns": {"NS": [text]}}])
    try:
        expected = python_page(body)
    except Exception as error:  # not a number: the transcoder leaves it to Python
        assert values._codec.page_lines(body) is None, error
        return
    assert c_page(body) == expected


@needs_transcoder
@pytest.mark.parametrize(
    "item",
    [
        {"n": {"N": "+5"}},
        {"n": {"N": ".5"}},
        {"n": {"N": "5."}},
        {"n": {"N": "1_000"}},
        {"n": {"N": " 1"}},
        {"n": {"N": "NaN"}},
        {"n": {"N": "1e9999999999"}},
        {"n": {"N": "1" * 5000}},
        {"s": {"S": "lone \ud800 surrogate"}},
        {"x": {"S": "a", "N": "1"}},
        {"x": {"X": "1"}},
        {"x": {}},
        {"x": {"S": 5}},
        {"x": {"BOOL": "yes"}},
        {"x": {"SS": [1]}},
        {"x": {"L": [5]}},
        {"x": {"M": []}},
    ],
)
def test_what_is_not_the_regular_case_is_left_to_python(item):
    body = page_body([{"pk": {"S": "a"}}, item], ensure_ascii=True)
    assert values._codec.page_lines(body) is None
    try:
        python_page(body)
    except Exception:  # some of these are errors in Python too: the export says so as before
        pass


@needs_transcoder
def test_repeated_names_and_escaped_member_names_are_left_to_python():
    for body in [
        b'{"Items":[{"a":{"S":"1"},"a":{"S":"2"}}]}',
        b'{"Items":[{"m":{"M":{"x":{"N":"1"},"y":{"N":"2"},"x":{"N":"3"}}}}]}',
        b'{"It\\u0065ms":[{"a":{"S":"1"}}]}',
        b'{"Items":[5]}',
        b'{"Items":[{"a":{"S":"1"}}, "x"]}',
    ]:
        assert values._codec.page_lines(body) is None, body
    # the same name in two maps, or at two depths, is no repetition
    body = b'{"Items":[{"a":{"M":{"a":{"S":"1"}}},"b":{"M":{"a":{"S":"2"}}}}]}'
    assert c_page(body) == python_page(body) and values._codec.page_lines(body) is not None


@needs_transcoder
def test_pages_without_items_and_other_members():
    for body in [b"{}", b' { "Count" : 0 , "Items" : [ ] } ', b'{"Items":null,"Count":0}']:
        assert c_page(body) == python_page(body)
    lines, count, lossy, rest = values._codec.page_lines(b'{"Items":[],"X":[1,{"a":null}]}')
    assert (lines, count, lossy, json.loads(rest)) == (b"", 0, 0, {"X": [1, {"a": None}]})


@needs_transcoder
@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"[]",
        b"{",
        b'{"Items":[{"a":{"S":"x"}}]',
        b'{"Items":[{"a":{"S":"x}}]}',
        b'{"Items":[{"a":{"S":"\\q"}}]}',
        b'{"Items":[{"a":{"S":"\\u12"}}]}',
        b'{"Items":[{"a":{"S":"\x01"}}]}',
        b'{"Items":[{"a":{"S":"\xff"}}]}',
        b'{"Items":[{"a":{"S":"\xed\xa0\x80"}}]}',  # a surrogate in UTF-8
        b'{"Items":[{"a":{"S":"\xc0\xaf"}}]}',  # overlong
        b'{"Items":[{"a" {"S":"x"}}]}',
        b'{"Items":[{"a":{"S":"x"} "b":{"S":"y"}}]}',
        b'{"Items":[{"a":{"S":"x"}}] "Count":1}',
        b'{"Items":[{"a":{"N":"1"}}],"Count":}',
        b'{"Items":[]}\xff',
        b'{"Count":"\xe2\x82"}',
    ],
)
def test_malformed_pages_raise_value_error(body):
    with pytest.raises(ValueError):
        c_page(body)
    with pytest.raises(ValueError):
        python_page(body)


@needs_transcoder
def test_truncated_and_mutated_pages_never_crash_and_agree_with_python():
    """A quick fuzz: every truncation of a rich page, and random byte flips, insertions and
    deletions. The transcoder gives Python's result, or both raise a ValueError."""
    import random

    body = page_body([RICH_ITEM, {"pk": {"S": "x"}}], LastEvaluatedKey={"k": {"N": "1"}})
    bodies = [body[:n] for n in range(len(body))]
    rnd = random.Random(7)
    special = b'{}[]",:\\ 0123456789eE.-+tfnul' + bytes(range(0x7E, 0x100, 7))
    for _ in range(4000):
        mutated = bytearray(body)
        for _ in range(rnd.randint(1, 3)):
            at = rnd.randrange(len(mutated))
            kind = rnd.random()
            if kind < 0.4:
                mutated[at] = rnd.choice(special)
            elif kind < 0.7:
                mutated.insert(at, rnd.choice(special))
            else:
                del mutated[at]
        bodies.append(bytes(mutated))
    for candidate in bodies:
        try:
            expected = python_page(candidate)
        except ValueError:
            expected = ValueError
        except Exception as error:  # e.g. an item that is no object: TypeError, as before
            expected = type(error)
        try:
            got = c_page(candidate)
        except ValueError:
            got = ValueError
        except Exception as error:
            got = type(error)
        assert got == expected, candidate


# ---------------------------------------------------------------------------------------------
# the transcoder in the export: the same file, retries and the CRC check as before


def rich_items(count: int) -> list[dict]:
    """RICH_ITEM as DynamoDB takes it (no empty binary in a set), keyed pk/sk, varied."""
    items = []
    for i in range(count):
        item = {**RICH_ITEM, "pk": {"S": f"p{i % 3}"}, "sk": {"N": str(i)}}
        item["bs"] = {"BS": ["AA==", base64.b64encode(bytes([i, 255])).decode()]}
        item["text"] = {"S": RICH_ITEM["text"]["S"] * (i % 4)}
        items.append(item)
    return items


@pytest.fixture
def rich_table(dynamodb_local):
    """A fresh database holding the table "rich" of 60 rich items: its Endpoint."""
    from support import Endpoint, pk_sk_table

    endpoint = Endpoint(dynamodb_local.endpoint_url)
    conn = endpoint.connection()
    conn.run("CreateTable", pk_sk_table("rich"))
    items = rich_items(60)
    for first in range(0, len(items), 25):
        writes = [{"PutRequest": {"Item": item}} for item in items[first : first + 25]]
        assert conn.run("BatchWriteItem", {"RequestItems": {"rich": writes}}).complete
    return endpoint


@needs_transcoder
@pytest.mark.parametrize("fmt", ["jsonl", "json"])
def test_an_export_writes_the_same_bytes_with_the_transcoder_or_without(
    rich_table, tmp_path, monkeypatch, fmt
):
    import subprocess
    import sys

    from dynaquery._speed import codec
    from dynaquery.transfer import export_table

    options = {"format": fmt, "segments": 1, "page_size": 7}
    conn = rich_table.connection()
    fast = export_table(conn, "rich", tmp_path / "fast", **options)
    with monkeypatch.context() as patch:
        patch.setattr(codec, "page_lines", lambda: None)  # every page parsed, as before
        parsed = export_table(conn, "rich", tmp_path / "parsed", **options)
    # And with no C at all, in a process of its own.
    script = (
        "import sys; from dynaquery import Connection, values; "
        "from dynaquery.transfer import export_table; assert not values.ACCELERATED; "
        f"export_table(Connection(**{rich_table.settings()!r}), 'rich', sys.argv[1], "
        f"**{options!r})"
    )
    env = {**os.environ, "DYNAQUERY_PURE_PYTHON": "1"}
    subprocess.run([sys.executable, "-c", script, str(tmp_path / "pure")], env=env, check=True)
    data = (tmp_path / "fast").read_bytes()
    assert data == (tmp_path / "parsed").read_bytes() == (tmp_path / "pure").read_bytes()
    assert fast.items == parsed.items == 60 and fast.lossy == parsed.lossy == 60
    assert "𝄞" in data.decode() and "\\u0000" in data.decode()


@needs_transcoder
def test_throttled_pages_are_retried_and_every_item_written_once(rich_table, tmp_path):
    from dynaquery import Connection
    from dynaquery.transfer import export_table

    from faultproxy import FaultProxy

    with FaultProxy(rich_table.endpoint_url) as proxy:
        proxy.configure(kinds=("throttle", "throttling"), rate=0.3, operations={"Scan"}, seed=3)
        settings = {**rich_table.settings(), "endpoint_url": proxy.endpoint_url}
        conn = Connection(**settings, retry_mode="standard", max_attempts=10)
        result = export_table(conn, "rich", tmp_path / "out.jsonl", segments=2, page_size=5)
        throttled = proxy.stats()["injected"]
    lines = (tmp_path / "out.jsonl").read_bytes().split(b"\n")[:-1]
    assert throttled >= 3 and result.items == len(lines) == 60
    assert sorted(json.loads(line)["sk"] for line in lines) == list(range(60))


@pytest.fixture
def damaged_replay():
    """The bench's replay endpoint, its first Scan answer with a wrong x-amz-crc32."""
    import sys
    import threading
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for `bench`
    from bench.replay import serve

    server = serve(300, damaged=1)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@needs_transcoder
def test_a_page_with_a_bad_crc_is_retried_or_refused_never_written(damaged_replay, tmp_path):
    from dynaquery import Connection, ConnectionFailed
    from dynaquery.transfer import export_table

    settings = {"endpoint_url": damaged_replay, "region": "us-east-1"}
    keys = {"access_key_id": "any", "secret_access_key": "any"}
    once = Connection(**settings, **keys, retry_mode="standard", max_attempts=1)
    with pytest.raises(ConnectionFailed, match="cut off or damaged"):
        export_table(once, "bench", tmp_path / "refused.jsonl", segments=1, page_size=100)
    assert (tmp_path / "refused.jsonl").read_bytes() == b""  # the damaged page is not written

    twice = Connection(**settings, **keys, retry_mode="standard", max_attempts=2)
    result = export_table(twice, "bench", tmp_path / "out.jsonl", segments=1, page_size=100)
    lines = (tmp_path / "out.jsonl").read_bytes().split(b"\n")[:-1]
    assert result.items == len(lines) == 300
    assert [json.loads(line)["sk"] for line in lines] == list(range(300))


@needs_transcoder
def test_deep_nesting_is_left_to_python_never_a_crash():
    deep = b'{"Items":[{"a":' + b'{"L":[' * 5000 + b"]}" * 5000 + b"}]}"
    assert values._codec.page_lines(deep) is None
    assert values._codec.page_lines(b'{"X":' + b"[" * 100_000 + b"]" * 100_000 + b"}") is None
    with pytest.raises(ValueError):
        values._codec.page_lines(b'{"Items":[{"a":{"M":{"a":{"S":"x"' + b"}" * 2)
