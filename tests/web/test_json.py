"""The page's exact JSON reader (web/json.js) in Chromium: the built-in parser with each number's
source text gives what the page's own parser gives, digit for digit; and how much faster it is on
a 5,000-item answer (reported, not asserted)."""

from __future__ import annotations

import json

TEXTS = [
    '{"a": 1, "b": 1.5, "c": 1.50, "d": 12345678901234567890123456789012345678}',
    "[0, -0, 1e5, 1E-7, -12.0, 9007199254740993, 0.1, 3.14159265358979323846]",
    '{"__proto__": {"x": 1}, "nested": [{"n": 7223372036854775837}], "s": "\\u00e9\\n"}',
    '"text"',
    "null",
    '{"a": 1, "b": [2, 3.5, -4e-7], "s": "1.50, 2,3"}',  # the built-in parser alone
    '{"s": "[1.50", "n": 1.50}',
]


def test_the_fast_reader_gives_what_the_exact_parser_gives(page):
    found = page.evaluate(
        """async (texts) => {
            const json = await import("/static/json.js");
            const same = texts.map((text) =>
                json.stringify(json.parseExact(text)) === json.stringify(json.parseExactSlowly(text)));
            const big = json.parseExact('{"n": 12345678901234567890123456789012345678}').n;
            const proto = Object.keys(json.parseExact('{"__proto__": 1}'));
            return {same, big: big.constructor.name + ":" + String(big), proto};
        }""",
        TEXTS,
    )
    assert found["same"] == [True] * len(TEXTS)
    assert found["big"] == "ExactNumber:12345678901234567890123456789012345678"
    assert found["proto"] == ["__proto__"]


def test_the_fast_reader_on_a_large_answer(page, record_property):
    items = [
        {"pk": f"user#{i}", "sk": i, "score": f"{i}.50", "big": "1" * 30, "tags": ["a", "b"]}
        for i in range(5000)
    ]
    common = json.dumps({"data": {"Items": items}})  # numbers that read back as written
    exact = common.replace('.50"', ".50").replace('"score": "', '"score": ')
    timing = page.evaluate(
        """async ([common, exact]) => {
            const json = await import("/static/json.js");
            const time = (parse, text) => {
                const started = performance.now();
                const value = parse(text);
                return [Math.round(performance.now() - started), value.data.Items.length];
            };
            return {
                common: time(json.parseExact, common),
                exact: time(json.parseExact, exact),
                own_parser: time(json.parseExactSlowly, exact),
            };
        }""",
        [common, exact],
    )
    assert {count for _, count in timing.values()} == {5000}
    record_property("parse_ms", timing)
    print(f"5,000 items, parse ms: {timing}")
