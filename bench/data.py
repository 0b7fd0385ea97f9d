"""The benchmark's table and items: a dozen attributes of every kind, deterministic."""

from __future__ import annotations

import random

TABLE = "bench"


def table_definition(name: str = TABLE) -> dict:
    return {
        "TableName": name,
        "AttributeDefinitions": [
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "N"},
        ],
        "KeySchema": [
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        "BillingMode": "PAY_PER_REQUEST",
    }


WORDS = [
    "alpha",
    "bravo",
    "charlie",
    "delta",
    "echo",
    "foxtrot",
    "golf",
    "hotel",
    "india",
    "juliett",
    "kilo",
    "lima",
    "mike",
    "november",
    "oscar",
    "papa",
]


def typed_item(i: int) -> dict:
    """Item number i, typed (as the API and botocore take it; B as bytes)."""
    rnd = random.Random(i)
    w = rnd.choice
    return {
        "pk": {"S": f"user#{i % 997:04d}"},
        "sk": {"N": str(i)},
        "name": {"S": f"{w(WORDS).title()} {w(WORDS).title()}"},
        "email": {"S": f"{w(WORDS)}.{i}@example.com"},
        "age": {"N": str(rnd.randint(18, 99))},
        "balance": {"N": f"{rnd.randint(-(10**6), 10**6)}.{rnd.randint(0, 99):02d}"},
        "active": {"BOOL": rnd.random() < 0.5},
        "tags": {"SS": sorted({w(WORDS) for _ in range(3)})},
        "scores": {"NS": sorted({str(rnd.randint(0, 1000)) for _ in range(3)})},
        "avatar": {"B": rnd.randbytes(24)},
        "address": {
            "M": {
                "city": {"S": w(WORDS).title()},
                "zip": {"S": f"{rnd.randint(0, 99999):05d}"},
                "geo": {
                    "L": [
                        {"N": f"{rnd.uniform(-90, 90):.6f}"},
                        {"N": f"{rnd.uniform(-180, 180):.6f}"},
                    ]
                },
            }
        },
        "history": {"L": [{"N": str(rnd.randint(0, 10**9))}, {"S": w(WORDS)}, {"NULL": True}]},
    }


def write_files(directory, count: int, start: int = 0) -> tuple[str, str]:
    """Items start..start+count as JSON lines: typed (exact, binary in base64) and plain (what
    an export gives: sets as lists, binary as base64 text). Returns the two paths."""
    import base64
    import json
    from pathlib import Path

    from dynaquery.values import items_jsonl

    directory = Path(directory)
    typed_path = directory / f"typed-{start}-{count}.jsonl"
    plain_path = directory / f"plain-{start}-{count}.jsonl"
    dumps = json.JSONEncoder(
        separators=(",", ":"), default=lambda b: base64.b64encode(b).decode()
    ).encode
    with open(typed_path, "w") as typed, open(plain_path, "wb") as plain:
        for first in range(start, start + count, 1000):
            items = [typed_item(i) for i in range(first, min(first + 1000, start + count))]
            typed.write("".join(dumps(item) + "\n" for item in items))
            plain.write(items_jsonl(items))
    return str(typed_path), str(plain_path)
