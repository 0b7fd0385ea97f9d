"""The typed <-> plain codec, and where the service model says AttributeValues sit."""

import base64
from decimal import Decimal

import pytest
from hypothesis import given, strategies as st

from dynaquery.catalog import get_operation
from dynaquery.errors import Problem
from dynaquery.values import AV, number, plain_response, to_plain, to_typed, typed_params


def test_plain_values_become_typed():
    assert to_typed("x") == {"S": "x"}
    assert to_typed(42) == {"N": "42"}
    assert to_typed(Decimal("0.1")) == {"N": "0.1"}
    assert to_typed(True) == {"BOOL": True}
    assert to_typed(None) == {"NULL": True}
    assert to_typed([1, "a"]) == {"L": [{"N": "1"}, {"S": "a"}]}
    assert to_typed({"a": {"b": 1}}) == {"M": {"a": {"M": {"b": {"N": "1"}}}}}


def test_typed_values_are_kept_and_may_hold_plain_ones():
    assert to_typed({"S": "x"}) == {"S": "x"}
    assert to_typed({"N": 5}) == {"N": "5"}
    assert to_typed({"B": base64.b64encode(b"\x00\xff").decode()}) == {"B": b"\x00\xff"}
    assert to_typed({"SS": ["a", "b"]}) == {"SS": ["a", "b"]}
    assert to_typed({"NS": [1, "2.5"]}) == {"NS": ["1", "2.5"]}
    assert to_typed({"M": {"a": 1, "b": {"S": "x"}}}) == {"M": {"a": {"N": "1"}, "b": {"S": "x"}}}
    assert to_typed({"L": ["x", {"BOOL": False}]}) == {"L": [{"S": "x"}, {"BOOL": False}]}


def test_typed_mistakes_name_their_path():
    problems: list[Problem] = []
    to_typed(
        {"M": {"a": {"S": 5}, "b": {"N": "ten"}, "c": {"B": "not base64!"}}}, "Item.x", problems
    )
    assert [p.path for p in problems] == ["Item.x.M.a.S", "Item.x.M.b.N", "Item.x.M.c.B"]
    assert "expected a string, got a number" in problems[0].message
    assert "'ten' is not a number" in problems[1].message
    assert "base64" in problems[2].message


def test_numbers_come_back_exact():
    digits = "12345678901234567890123456789012345678"
    assert number(digits) == int(digits)
    assert isinstance(number("-7"), int)
    assert number("0.1") == Decimal("0.1") and isinstance(number("0.1"), Decimal)
    assert to_plain({"NS": ["1", "1.5"]}) == [1, Decimal("1.5")]
    assert to_plain({"B": b"hi"}) == "aGk="
    assert to_plain({"BS": [b"hi"]}) == ["aGk="]
    assert to_plain({"NULL": True}) is None


def test_plan_comes_from_the_model():
    get_item = get_operation("GetItem")
    assert get_item.input_plan == ("struct", {"Key": ("map", AV)})
    assert get_item.output_plan == ("struct", {"Item": ("map", AV)})
    batch = get_operation("BatchWriteItem").input_plan
    assert batch[1]["RequestItems"] == (
        "map",
        (
            "list",
            (
                "struct",
                {
                    "PutRequest": ("struct", {"Item": ("map", AV)}),
                    "DeleteRequest": ("struct", {"Key": ("map", AV)}),
                },
            ),
        ),
    )
    assert get_operation("ListTables").input_plan is None


def test_conversion_happens_only_where_the_model_says():
    params = {"TableName": "t", "Key": {"id": "x"}, "ExpressionAttributeNames": {"#S": "S"}}
    scan = get_operation("GetItem")
    converted = typed_params(params, scan.input_plan, "", [])
    assert converted["Key"] == {"id": {"S": "x"}}
    assert converted["ExpressionAttributeNames"] == {"#S": "S"}  # not an AttributeValue


def test_plain_response_converts_items():
    scan = get_operation("Scan")
    raw = {"Items": [{"a": {"N": "1"}}], "Count": 1, "LastEvaluatedKey": {"a": {"N": "1"}}}
    assert plain_response(raw, scan.output_plan) == {
        "Items": [{"a": 1}],
        "Count": 1,
        "LastEvaluatedKey": {"a": 1},
    }


plain = st.recursive(
    st.none()
    | st.booleans()
    | st.text()
    | st.integers(min_value=-(10**38), max_value=10**38)
    | st.decimals(allow_nan=False, allow_infinity=False, places=6).filter(
        lambda d: d == d.normalize() or True
    ),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.text(max_size=6).filter(
                lambda k: k not in {"S", "N", "B", "SS", "NS", "BS", "M", "L", "NULL", "BOOL"}
            ),
            children,
            max_size=4,
        )
    ),
    max_leaves=25,
)


def _equal_numbers(a, b):
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_equal_numbers(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_equal_numbers(x, y) for x, y in zip(a, b))
    if isinstance(a, (int, Decimal)) and not isinstance(a, bool):
        return Decimal(a) == Decimal(b) and not isinstance(b, bool)
    return a == b and type(a) is type(b)


@given(plain)
def test_plain_round_trip_is_exact(value):
    typed = to_typed(value)
    assert _equal_numbers(value, to_plain(typed))


@given(st.binary(max_size=32))
def test_binary_round_trip(data):
    typed = to_typed({"B": base64.b64encode(data).decode()})
    assert typed == {"B": data}
    assert base64.b64decode(to_plain(typed)) == data


def test_unstorable_values_are_reported():
    with pytest.raises(ValueError, match="not a number DynamoDB can store"):
        to_typed(float("nan"))
    with pytest.raises(ValueError, match="cannot be stored"):
        to_typed(object())


def test_a_number_text_that_is_no_number_is_an_input_error_in_c_and_python():
    from dynaquery import values
    from dynaquery.errors import InputError

    for text in ("1e9991249999999999989", "-1e-9991249999999999989", "abc", "1" * 5000):
        with pytest.raises(InputError, match="is not a number DynamoDB can hold"):
            number(text)
        with pytest.raises(InputError, match="is not a number DynamoDB can hold"):
            to_plain({"N": text})  # the C codec when built
        with pytest.raises(InputError, match="is not a number DynamoDB can hold"):
            values._py_to_plain({"NS": ["1", text]})
