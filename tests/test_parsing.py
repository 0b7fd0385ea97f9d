"""Parameter text: comments, trailing commas, exact numbers, and errors that say where."""

from decimal import Decimal

import pytest
from hypothesis import given, strategies as st

from dynaquery.errors import InputError, ParseError
from dynaquery.parsing import loads, parse_params, strip_comments


def test_comments_and_trailing_commas_are_accepted():
    text = """{
        // a line comment
        "a": 1, /* a block
        comment */ "b": [1, 2, 3,],
        "c": {"d": "e",},   // trailing comma in an object
        "url": "http://example.com/x//y", "star": "/* not a comment */",
    }"""
    assert loads(text) == {
        "a": 1,
        "b": [1, 2, 3],
        "c": {"d": "e"},
        "url": "http://example.com/x//y",
        "star": "/* not a comment */",
    }


def test_a_comma_followed_by_a_literal_is_not_trailing():
    assert loads("[1, null, true, false, 2.5, ]") == [1, None, True, False, Decimal("2.5")]


def test_positions_are_kept_after_comments():
    text = '{\n  // comment\n  "a": 1\n  "b": 2\n}'
    with pytest.raises(ParseError) as info:
        loads(text)
    assert (info.value.line, info.value.column) == (4, 3)
    assert "line 4, column 3" in str(info.value)


def test_unclosed_object_names_the_opening_brace():
    text = '{\n    "Key": {\n        "a": {"S": "x"}\n}\n'
    with pytest.raises(ParseError) as info:
        loads(text)
    message = str(info.value)
    assert "the '{' opened at line 1, column 1 is never closed" in message
    assert "add a '}'" in message


def test_unclosed_block_comment():
    with pytest.raises(ParseError) as info:
        loads('{"a": 1 /* oops }')
    assert "never closed" in str(info.value) and info.value.column == 9


def test_numbers_are_exact():
    value = loads('{"big": 12345678901234567890123456789012345678, "tenth": 0.1, "e": 1E+2}')
    assert value["big"] == 12345678901234567890123456789012345678
    assert isinstance(value["big"], int)
    assert value["tenth"] == Decimal("0.1") and isinstance(value["tenth"], Decimal)
    assert value["e"] == Decimal("100")


def test_nan_and_duplicates_are_refused():
    with pytest.raises(InputError, match="not a JSON number"):
        loads('{"a": NaN}')
    with pytest.raises(InputError, match="appears twice"):
        loads('{"a": 1, "a": 2}')


def test_parse_params_empty_and_non_object():
    assert parse_params(None) == {}
    assert parse_params("   ") == {}
    assert parse_params("// nothing but a comment\n") == {}
    with pytest.raises(InputError, match="must be a JSON object"):
        parse_params("[1, 2]")


def test_unquoted_key_error_says_how_to_fix():
    with pytest.raises(ParseError, match="double quotes"):
        loads("{TableName: 'users'}")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@given(json_values)
def test_plain_json_round_trips(value):
    import json

    assert loads(json.dumps(value)) == value


@given(st.text(max_size=60))
def test_any_text_parses_or_fails_cleanly(text):
    try:
        loads(text)
    except InputError:
        pass


@given(st.text(alphabet='{}[],"/*\n ab:1', max_size=40))
def test_strip_comments_keeps_length_and_lines(text):
    try:
        clean, _ = strip_comments(text)
    except ParseError:
        return
    assert len(clean) == len(text)
    assert clean.count("\n") == text.count("\n")


def _outcome(call):
    try:
        return "value", call()
    except InputError as error:
        return "error", type(error).__name__, error.message


@given(
    st.text(alphabet='{}[],"/*\n ab:1.eNa', max_size=40)
    | json_values.map(lambda v: __import__("json").dumps(v))
)
def test_plain_json_first_gives_what_the_blanked_text_gives(text):
    """loads tries a text as plain JSON before blanking its comments: the outcome is the same."""

    def blanked():
        clean, _ = strip_comments(text)
        return loads(clean)

    assert _outcome(lambda: loads(text)) == _outcome(blanked)


def test_nesting_deeper_than_the_parser_goes_is_an_input_error():
    for text in ("[" * 100_000 + "]" * 100_000, '{"a":' * 100_000 + "1", "/* c */" + "[" * 5000):
        with pytest.raises(InputError, match="nested too deeply|never closed"):
            parse_params(text)


def test_a_number_past_decimals_range_is_an_input_error():
    for text in ('{"a": -1e9991249999999999989}', '{"a": 1e-9991249999999999989}'):
        with pytest.raises(InputError, match="out of range"):
            loads(text)
