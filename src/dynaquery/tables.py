"""A table as the table browser shows it: its keys and indexes, and a Query and a Scan to start
from, made from DescribeTable's answer."""

from __future__ import annotations

from .results import to_json


def describe_table(table: dict) -> dict:
    """A table's keys and indexes, and a Query and a Scan to start from (`table`: the `Table`
    of DescribeTable's answer)."""
    types = {a["AttributeName"]: a["AttributeType"] for a in table.get("AttributeDefinitions", [])}
    partition, sort = _keys(table["KeySchema"], types)
    indexes = _indexes(table, types)
    return {
        "name": table["TableName"],
        "status": table.get("TableStatus"),
        "item_count": table.get("ItemCount"),
        "size_bytes": table.get("TableSizeBytes"),
        "partition_key": partition,
        "sort_key": sort,
        "indexes": indexes,
        "query_template": query_template(table["TableName"], partition),
        "index_query_templates": {
            index["name"]: query_template(table["TableName"], index["partition_key"], index["name"])
            for index in indexes
        },
        "scan_template": to_json({"TableName": table["TableName"], "Limit": 25}) + "\n",
    }


def _keys(schema: list[dict], types: dict[str, str]) -> tuple[dict, dict | None]:
    """(the partition key, the sort key or None), each with its attribute type."""
    by_role = {k["KeyType"]: k["AttributeName"] for k in schema}
    hash_key = {"name": by_role["HASH"], "type": types.get(by_role["HASH"], "S")}
    range_name = by_role.get("RANGE")
    return hash_key, (
        {"name": range_name, "type": types.get(range_name, "S")} if range_name else None
    )


def _indexes(table: dict, types: dict[str, str]) -> list[dict]:
    indexes = []
    for kind, entries in (
        ("global", table.get("GlobalSecondaryIndexes", [])),
        ("local", table.get("LocalSecondaryIndexes", [])),
    ):
        for index in entries:
            pk, sk = _keys(index["KeySchema"], types)
            indexes.append(
                {
                    "name": index["IndexName"],
                    "kind": kind,
                    "partition_key": pk,
                    "sort_key": sk,
                    "projection": index.get("Projection", {}).get("ProjectionType", "ALL"),
                }
            )
    return indexes


def query_template(table: str, partition: dict, index: str | None = None) -> str:
    """A Query on the partition key (of the table, or of `index`), its value a {{ placeholder }}
    named after the key."""
    placeholder = "".join(c if c.isalnum() or c == "_" else "_" for c in partition["name"])
    if not placeholder or placeholder[0].isdigit():
        placeholder = "key_" + placeholder
    value = f'"{{{{ {placeholder} }}}}"' if partition["type"] != "N" else f"{{{{ {placeholder} }}}}"
    lines = [f'"TableName": {to_json(table, pretty=False)}']
    if index:
        lines.append(f'"IndexName": {to_json(index, pretty=False)}')
    lines += [
        '"KeyConditionExpression": "#pk = :pk"',
        f'"ExpressionAttributeNames": {{"#pk": {to_json(partition["name"], pretty=False)}}}',
        f'"ExpressionAttributeValues": {{":pk": {value}}}',
    ]
    number_note = "  // a number" if partition["type"] == "N" else ""
    return "{\n" + ",\n".join("    " + line for line in lines) + number_note + "\n}\n"
