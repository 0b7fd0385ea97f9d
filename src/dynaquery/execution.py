"""Running a prepared request: pagination, batches, and the result's meta.

Pagination uses botocore's paginators (and their resume tokens). Batches are this project's own:
BatchWriteItem and BatchGetItem requests larger than the API's limit (read from the model) are
split, and UnprocessedItems / UnprocessedKeys are retried with backoff until done or a deadline.
Nothing is dropped silently: what is left is in the result and makes it incomplete.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .catalog import Operation
from .errors import DynaqueryError, InputError, ServiceError
from .request import Request, prepare
from .results import Result, apply_transform, compile_transform, write_summary
from .values import plain_response

if TYPE_CHECKING:  # only a type: connection.py imports this module, in Connection.run
    from .connection import Connection

# The batch operations, and where each answers with what it left undone.
BATCH_UNPROCESSED = {"BatchWriteItem": "UnprocessedItems", "BatchGetItem": "UnprocessedKeys"}
# A batch refused with these applied nothing: it is sent again, with the same backoff.
THROTTLING_CODES = frozenset(
    {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"}
)
BACKOFF_BASE = 0.05  # seconds
BACKOFF_CAP = 5.0


def run(
    connection: Connection,
    operation: str | Operation | Request,
    params: Any = None,
    *,
    all_pages: bool = False,
    max_items: int | None = None,
    starting_token: str | None = None,
    batch_timeout: float = 60.0,
    transform: str | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Result:
    """Run one operation on a connection and return its Result.

    - params: the JSON text (comments and trailing commas allowed) or a dict, plain or typed values;
    - all_pages / max_items / starting_token: pagination (default: one page, token in meta);
    - batch_timeout: how long unprocessed batch items are retried, in seconds;
    - transform: a JMESPath expression applied to the data.
    """
    request = operation if isinstance(operation, Request) else prepare(operation, params)
    if max_items is not None and max_items < 1:
        raise InputError("max_items must be at least 1.")
    if transform:
        compile_transform(transform)  # a bad expression must fail before anything is sent
    op = request.operation
    _ = connection.client  # built before the clock starts: duration is the operation's own
    started = time.perf_counter()
    stats: dict[str, Any] = {}
    unprocessed = None
    if op.name in BATCH_UNPROCESSED:
        raw, unprocessed = _batch(
            connection, op, request.params, BATCH_UNPROCESSED[op.name], batch_timeout, stats, sleep
        )
    elif op.pagination:
        raw = _paginate(connection, op, request.params, all_pages, max_items, starting_token, stats)
    else:
        if starting_token:
            raise InputError(f"{op.name} does not paginate: a starting token does not apply.")
        raw = connection.call(op.name, request.params)
        stats["responses"] = [raw]
    duration = time.perf_counter() - started
    result = shape_result(op, raw, stats, duration, unprocessed)
    summary = write_summary(op, request.params, raw)
    if summary:
        result.meta["summary"] = summary
    if transform:
        result.data = apply_transform(result.data, transform)
        result.meta["transform"] = transform
    return result


# ---------------------------------------------------------------------------------------------
# result


def shape_result(
    op: Operation, raw: dict, stats: dict, duration: float, unprocessed: dict | None = None
) -> Result:
    body = {k: v for k, v in raw.items() if k != "ResponseMetadata"}
    data = plain_response(body, op.output_plan) if op.output_plan else body
    responses = stats.pop("responses", [])
    meta: dict[str, Any] = {
        "operation": op.name,
        "duration_ms": round(duration * 1000, 3),
        "pages": len(responses),
        "retries": sum(r.get("ResponseMetadata", {}).get("RetryAttempts", 0) for r in responses),
    }
    count = _count(op, body)
    if count is not None:
        meta["count"] = count
    if "ScannedCount" in body:
        meta["scanned_count"] = body["ScannedCount"]
    if "ConsumedCapacity" in body:
        meta["consumed_capacity"] = body["ConsumedCapacity"]
    for key in ("next_token", "batch_requests", "batch_retries"):
        if key in stats:
            meta[key] = stats[key]
    if unprocessed:
        meta["unprocessed"] = sum(
            len(v["Keys"]) if isinstance(v, dict) else len(v) for v in unprocessed.values()
        )
    return Result(op.name, data, raw, meta, unprocessed or None)


def _count(op: Operation, body: dict) -> int | None:
    if isinstance(body.get("Count"), int):
        return body["Count"]
    if "Item" in body:
        return 1
    if op.name == "GetItem":
        return 0
    if isinstance(body.get("Responses"), dict):
        return sum(len(items) for items in body["Responses"].values())
    if isinstance(body.get("Responses"), list):
        return len(body["Responses"])
    if op.pagination:
        for key in op.pagination["result_key"]:
            if isinstance(body.get(key), list):
                return len(body[key])
    if isinstance(body.get("Items"), list):
        return len(body["Items"])
    return None


# ---------------------------------------------------------------------------------------------
# pagination


def _paginate(
    connection: Connection,
    op: Operation,
    params: dict,
    all_pages: bool,
    max_items: int | None,
    starting_token: str | None,
    stats: dict,
) -> dict:
    pagination = op.pagination
    config: dict[str, Any] = {}
    if max_items:
        config["MaxItems"] = max_items
    if starting_token:
        _check_token(starting_token, pagination)
        config["StartingToken"] = starting_token
    follow = all_pages or max_items is not None
    pages: list[dict] = []
    try:
        iterator = connection.client.get_paginator(op.python_name).paginate(
            **params, PaginationConfig=config
        )
        for page in iterator:
            pages.append(page)
            if not follow:
                break
    except DynaqueryError:
        raise
    except Exception as error:
        raise _with_progress(
            connection.translate_error(error, op.name, params), pages, pagination
        ) from None
    token = iterator.resume_token if follow else _next_token(pages[0], pagination)
    merged = merge_pages(pages, pagination)
    if max_items and token:
        # Truncated mid-page: the page's own output token would skip the items cut off, so the
        # only way on is the resume token.
        for name in pagination["output_token"]:
            merged.pop(name, None)
    stats["responses"] = pages
    if token:
        stats["next_token"] = token
    return merged


def _check_token(token: str, pagination: dict) -> None:
    """A starting token must be one this operation's pages hand out."""
    from botocore.paginate import TokenDecoder

    allowed = set(pagination["input_token"]) | {"boto_truncate_amount"}
    try:
        decoded = TokenDecoder().decode(token)
    except Exception:
        decoded = None
    if not isinstance(decoded, dict) or not decoded or not set(decoded) <= allowed:
        raise InputError(
            "The starting token is not valid: pass the meta.next_token of a "
            "previous result of the same operation, unchanged."
        )


def _next_token(page: dict, pagination: dict) -> str | None:
    """The starting token for the page after `page`, in botocore's format; None after the last."""
    from botocore.paginate import TokenEncoder

    pending = {
        i: page[o]
        for i, o in zip(pagination["input_token"], pagination["output_token"])
        if page.get(o)
    }
    return TokenEncoder().encode(pending) if pending else None


def _with_progress(error: DynaqueryError, pages: list, pagination: dict) -> DynaqueryError:
    """Say how far the pages got, and how to go on from there."""
    if pages:
        error.resume_token = _next_token(pages[-1], pagination)
        error.message += f"\n{len(pages)} page(s) had been read before the error."
        if error.resume_token:
            error.message += f" To go on after them, pass this starting token: {error.resume_token}"
    return error


def merge_pages(pages: list[dict], pagination: dict) -> dict:
    """Pages as one response: result lists joined, counts summed, capacity added up."""
    if len(pages) == 1:
        return pages[0]
    merged = {k: v for k, v in pages[-1].items() if k != "ResponseMetadata"}
    for key in pagination["result_key"]:
        values = [page[key] for page in pages if key in page]
        if not values:
            continue
        if isinstance(values[0], list):
            merged[key] = [item for value in values for item in value]
        elif isinstance(values[0], (int, float)):
            merged[key] = sum(values)
    capacity = [page["ConsumedCapacity"] for page in pages if "ConsumedCapacity" in page]
    if capacity:
        merged["ConsumedCapacity"] = merge_capacity(capacity)
    return merged


def merge_capacity(entries: list) -> Any:
    """Add up ConsumedCapacity entries (single objects or lists of them), by table."""
    flat = [e for entry in entries for e in (entry if isinstance(entry, list) else [entry])]
    by_table: dict[str, dict] = {}
    for entry in flat:
        total = by_table.setdefault(entry.get("TableName", ""), {})
        _add_numbers(total, entry)
    merged = list(by_table.values())
    return merged[0] if merged and not isinstance(entries[0], list) and len(merged) == 1 else merged


def _add_numbers(total: dict, entry: dict) -> None:
    for key, value in entry.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            total[key] = total.get(key, 0) + value
        elif isinstance(value, dict):
            _add_numbers(total.setdefault(key, {}), value)
        else:
            total[key] = value


# ---------------------------------------------------------------------------------------------
# batches


def batch_limit(op: Operation) -> int:
    """The most requests (writes) or keys (gets) one call takes, from the model."""
    value = op.input_shape.members["RequestItems"].value
    if value.type_name == "structure":  # BatchGetItem: KeysAndAttributes
        value = value.members["Keys"]
    return value.metadata.get("max", 25)


def _split(op: Operation, request_items: dict) -> tuple[list[tuple[str, Any]], dict]:
    """(table, request-or-key) pairs, and per table the settings that go with its keys."""
    if op.name == "BatchGetItem":
        settings = {
            t: {k: v for k, v in spec.items() if k != "Keys"} for t, spec in request_items.items()
        }
        return [(t, key) for t, spec in request_items.items() for key in spec["Keys"]], settings
    return [(t, r) for t, requests in request_items.items() for r in requests], {}


def _group(op: Operation, pairs: list[tuple[str, Any]], settings: dict) -> dict:
    grouped: dict[str, Any] = {}
    for table, entry in pairs:
        if op.name == "BatchGetItem":
            grouped.setdefault(table, {**settings.get(table, {}), "Keys": []})["Keys"].append(entry)
        else:
            grouped.setdefault(table, []).append(entry)
    return grouped


def backoff(attempt: int, deadline: float, sleep: Callable[[float], None] = time.sleep) -> bool:
    """Wait before retry number `attempt` (exponential, full jitter); False, without waiting,
    when the wait would end past the deadline."""
    wait = min(BACKOFF_CAP, BACKOFF_BASE * 2**attempt) * random.random()
    if time.monotonic() + wait >= deadline:
        return False
    sleep(wait)
    return True


def send_until_processed(
    send: Callable[[Any], Any],
    pending: Any,
    deadline: float,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[Any, int]:
    """Send a batch, then what each answer left unprocessed, with backoff between the tries,
    until nothing is left or the deadline: (what is left, the number of retries).

    `send(pending)` makes one call and returns what it left. A call refused with a throttling
    code applied nothing: it is sent again the same way. Any other error is raised."""
    attempt = retries = 0
    while pending:
        if attempt:
            if not backoff(attempt, deadline, sleep):
                break
            retries += 1
        try:
            pending = send(pending)
        except ServiceError as error:  # throttled: botocore's own retries were not enough
            if error.code not in THROTTLING_CODES or time.monotonic() >= deadline:
                raise
        attempt += 1
    return pending, retries


def _batch(
    connection: Connection,
    op: Operation,
    params: dict,
    unprocessed_key: str,
    timeout: float,
    stats: dict,
    sleep: Callable[[float], None],
) -> tuple[dict, dict]:
    pairs, settings = _split(op, params["RequestItems"])
    others = {k: v for k, v in params.items() if k != "RequestItems"}
    limit = batch_limit(op)
    chunks = [pairs[i : i + limit] for i in range(0, len(pairs), limit)]
    deadline = time.monotonic() + timeout
    responses: list[dict] = []
    left: list[tuple[str, Any]] = []
    retries = 0
    done = 0

    def call(pending: dict) -> dict:
        response = connection.call(op.name, {**others, "RequestItems": pending})
        responses.append(response)
        return response.get(unprocessed_key) or {}

    for number, chunk in enumerate(chunks):
        try:
            pending, tries = send_until_processed(
                call, _group(op, chunk, settings), deadline, sleep
            )
        except ServiceError as error:
            error.message += _batch_progress(op, done, len(pairs), responses)
            raise
        retries += tries
        left.extend(_split(op, pending)[0] if pending else [])
        done += len(chunk)
        if time.monotonic() >= deadline and number + 1 < len(chunks):
            left.extend(pair for later in chunks[number + 1 :] for pair in later)
            break
    stats.update(responses=responses, batch_requests=len(responses), batch_retries=retries)
    unprocessed = _group(op, left, settings) if left else {}
    return _merge_batch(op, responses, unprocessed_key, unprocessed), unprocessed


def _batch_progress(op: Operation, done: int, total: int, responses: list[dict]) -> str:
    if not done:
        return ""
    verb = "applied" if op.name == "BatchWriteItem" else "read"
    return (
        f"\n{done} of {total} requests had been {verb} before the error "
        f"(in {len(responses)} calls); the rest were not sent."
    )


def _merge_batch(
    op: Operation, responses: list[dict], unprocessed_key: str, unprocessed: dict
) -> dict:
    merged: dict[str, Any] = {}
    if op.name == "BatchGetItem":
        tables: dict[str, list] = {}
        for response in responses:
            for table, items in response.get("Responses", {}).items():
                tables.setdefault(table, []).extend(items)
        merged["Responses"] = tables
    merged[unprocessed_key] = unprocessed
    capacity = [r["ConsumedCapacity"] for r in responses if "ConsumedCapacity" in r]
    if capacity:
        merged["ConsumedCapacity"] = merge_capacity(capacity)
    metrics: dict[str, list] = {}
    for response in responses:
        for table, entries in (response.get("ItemCollectionMetrics") or {}).items():
            metrics.setdefault(table, []).extend(entries)
    if metrics:
        merged["ItemCollectionMetrics"] = metrics
    if len(responses) == 1:
        merged["ResponseMetadata"] = responses[0].get("ResponseMetadata", {})
    return merged
