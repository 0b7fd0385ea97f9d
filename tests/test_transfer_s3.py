"""Export and import through DynamoDB's own services and S3 (`--via`), against moto's server.

moto's server implements ExportTableToPointInTime, DescribeExport, ImportTable, DescribeImport
and S3 on one endpoint. What it does not do as DynamoDB does: its export writes one data file and
no manifest (and DescribeExport names none), so the download from manifests is tested with files
laid out as AWS documents them, uploaded to moto's S3."""

from __future__ import annotations

import gzip
import json
import uuid

import pytest

from support import dynaquery, pk_sk_table

pytestmark = pytest.mark.servers


@pytest.fixture(scope="module")
def moto():
    """A moto of this module's own: the shared one may be reset by other tests."""
    from dynaquery.local import start_moto

    server = start_moto()
    yield server
    server.stop()


@pytest.fixture()
def flags(moto):
    return [
        "--endpoint-url",
        moto.endpoint_url,
        "--region",
        "us-east-1",
        "--access-key-id",
        "testing",
        "--secret-access-key",
        "testing",
    ]


@pytest.fixture()
def conn(moto):
    from dynaquery import Connection

    return Connection(
        endpoint_url=moto.endpoint_url,
        region="us-east-1",
        access_key_id="testing",
        secret_access_key="testing",
    )


@pytest.fixture()
def bucket(conn):
    from dynaquery.transfer.s3 import S3

    name = "bucket-" + uuid.uuid4().hex[:12]
    S3(conn).call("CreateBucket", Bucket=name)
    return name


def unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"


def items_with_every_type(count: int) -> list[dict]:
    return [
        {
            "pk": {"S": f"user#{n % 7}"},
            "sk": {"N": str(n)},
            "big": {"N": "123456789012345678901234567890.123456789012345678"},
            "bin": {"B": bytes([n % 256, 0, 255])},
            "tags": {"SS": ["a", f"t{n}"]},
            "nums": {"NS": ["1", "99999999999999999999999999999999999999"]},
            "blobs": {"BS": [b"\x00", bytes([n % 256 or 1])]},
            "doc": {"M": {"list": {"L": [{"NULL": True}, {"BOOL": n % 2 == 0}, {"S": "é✓"}]}}},
        }
        for n in range(count)
    ]


def table_with(conn, items: list[dict], pitr: bool = True) -> str:
    name = unique("via")
    conn.call("CreateTable", pk_sk_table(name))
    for start in range(0, len(items), 25):
        batch = [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
        assert not conn.call("BatchWriteItem", {"RequestItems": {name: batch}})["UnprocessedItems"]
    if pitr:
        conn.call(
            "UpdateContinuousBackups",
            {
                "TableName": name,
                "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            },
        )
    return name


def scan_all(conn, table: str) -> list[dict]:
    """Every item of the table, typed, binary in base64 (as JSON carries it)."""
    found, params = [], {"TableName": table}
    while True:
        page = conn.call("Scan", params)
        found += page["Items"]
        if "LastEvaluatedKey" not in page:
            return sorted((as_json(item) for item in found), key=sort_key)
        params["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def as_json(item: dict) -> dict:
    from dynaquery.values import typed_json_default

    return json.loads(json.dumps(item, default=typed_json_default))


def sort_key(item: dict) -> tuple:
    return item["pk"]["S"], int(item["sk"]["N"])


def normalized(item: dict) -> dict:
    """Sets compare as sets."""
    return {
        k: {t: sorted(v) if t in ("SS", "NS", "BS") else v for t, v in av.items()}
        for k, av in item.items()
    }


# -- export ---------------------------------------------------------------------------------


def test_export_via_s3_to_typed_json_lines_is_the_whole_table(conn, flags, bucket, tmp_path):
    table = table_with(conn, items_with_every_type(1234))
    out = tmp_path / "out.jsonl"
    done = dynaquery(
        "export", table, "--via", f"s3://{bucket}/exports", "-o", str(out), "--typed", *flags
    )
    assert done.code == 0, done.stderr
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert sorted(map(normalized, lines), key=sort_key) == [
        normalized(item) for item in scan_all(conn, table)
    ]
    assert "1,234 items of" in done.stderr and f"s3://{bucket}/exports/" in done.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["out.jsonl"]  # no temporary file left


def test_export_via_s3_plain_json_and_csv(conn, flags, bucket, tmp_path):
    from dynaquery.values import item_to_plain

    table = table_with(conn, items_with_every_type(30))
    scanned = scan_all(conn, table)
    as_array = tmp_path / "out.json"
    done = dynaquery("export", table, "--via", f"s3://{bucket}/a", "-o", str(as_array), *flags)
    assert done.code == 0, done.stderr
    expected = sorted(
        (json.loads(json.dumps(item_to_plain(i), default=str)) for i in scanned),
        key=lambda i: (i["pk"], i["sk"]),
    )
    got = json.loads(as_array.read_text(encoding="utf-8"), parse_float=str, parse_int=str)
    got = sorted(got, key=lambda i: (i["pk"], int(i["sk"])))
    assert [(i["pk"], i["sk"], i["big"]) for i in got] == [
        (i["pk"], str(i["sk"]), i["big"]) for i in expected
    ]
    assert "hold sets, binary values" in done.stderr  # what plain JSON loses is said
    as_csv = tmp_path / "out.csv"
    done = dynaquery("export", table, "--via", f"s3://{bucket}/b", "-o", str(as_csv), *flags)
    assert done.code == 0, done.stderr
    rows = as_csv.read_text(encoding="utf-8").splitlines()
    assert len(rows) == 31 and set(rows[0].split(",")) == set(scanned[0])


def test_export_via_s3_without_a_file_says_where_it_is(conn, flags, bucket):
    table = table_with(conn, items_with_every_type(12))
    done = dynaquery("export", table, "--via", f"s3://{bucket}/only/here/", *flags)
    assert done.code == 0, done.stderr
    assert f"12 items of {table} exported to s3://{bucket}/only/here/" in done.stdout
    assert "export: arn:aws:dynamodb:" in done.stdout


def test_export_via_s3_refuses_a_table_without_point_in_time_recovery(
    conn, flags, bucket, tmp_path
):
    table = table_with(conn, items_with_every_type(3), pitr=False)
    out = tmp_path / "out.jsonl"
    done = dynaquery("export", table, "--via", f"s3://{bucket}/x", "-o", str(out), *flags)
    assert done.code == 1
    assert "point-in-time recovery is off" in done.stderr
    assert f"aws dynamodb update-continuous-backups --table-name {table}" in done.stderr
    assert "PointInTimeRecoveryEnabled=true" in done.stderr
    assert not out.exists() and "Traceback" not in done.stderr
    backups = conn.call("DescribeContinuousBackups", {"TableName": table})
    status = backups["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]
    assert status["PointInTimeRecoveryStatus"] == "DISABLED"  # never turned on behind one's back


@pytest.mark.parametrize(
    "url, says",
    [
        ("bucket/prefix", "is not an S3 location: give it as s3://bucket/prefix"),
        ("https://bucket/prefix", "is not an S3 location"),
        ("s3://", "is not an S3 bucket name"),
        ("s3://Upper_Case/p", "is not an S3 bucket name"),
        ("s3://ok-bucket/a//b", "empty folder"),
    ],
)
def test_a_bad_s3_url_is_refused(conn, flags, url, says, tmp_path):
    out = tmp_path / "out.jsonl"
    done = dynaquery("export", "some-table", "--via", url, "-o", str(out), *flags)
    assert done.code == 2 and says in done.stderr, done.stderr
    assert not out.exists()
    (tmp_path / "in.jsonl").write_text('{"pk": "a", "sk": 1}\n')
    done = dynaquery(
        "import",
        "new-table",
        str(tmp_path / "in.jsonl"),
        "--via",
        url,
        "--create",
        "--key",
        "pk:S,sk:N",
        *flags,
    )
    assert done.code == 2 and says in done.stderr, done.stderr


def test_a_missing_bucket_is_said_before_anything_starts(conn, flags, tmp_path):
    table = table_with(conn, items_with_every_type(3))
    out = tmp_path / "out.jsonl"
    missing = "no-such-bucket-" + uuid.uuid4().hex[:8]
    done = dynaquery("export", table, "--via", f"s3://{missing}/p", "-o", str(out), *flags)
    assert done.code == 1
    assert f"there is no bucket '{missing}'" in done.stderr and not out.exists()
    (tmp_path / "in.jsonl").write_text('{"pk": "a", "sk": 1}\n')
    new = unique("never")
    done = dynaquery(
        "import",
        new,
        str(tmp_path / "in.jsonl"),
        "--via",
        f"s3://{missing}/p",
        "--create",
        "--key",
        "pk:S,sk:N",
        *flags,
    )
    assert done.code == 1 and f"there is no bucket '{missing}'" in done.stderr
    assert new not in conn.call("ListTables", {})["TableNames"]


def test_scan_options_are_refused_with_via(flags, bucket):
    done = dynaquery(
        "export",
        "t-able",
        "--via",
        f"s3://{bucket}/p",
        "--segments",
        "4",
        "--filter",
        "a = :a",
        *flags,
    )
    assert done.code == 2
    assert "--segments, --filter: not with --via" in done.stderr


# -- the export's files as DynamoDB writes them (manifests) ----------------------------------


def test_download_follows_the_manifests_as_aws_lays_them_out(conn, bucket, tmp_path):
    """AWS's layout: prefix/AWSDynamoDB/<id>/manifest-summary.json names manifest-files.json,
    whose lines name the data files (keys relative to the prefix, as in AWS's examples);
    another export's files under the same prefix are not read."""
    from dynaquery.transfer.formats import Writer
    from dynaquery.transfer.s3 import S3, S3ExportResult, S3Location, _data_files, _Download

    s3 = S3(conn)
    items = as_json_items(items_with_every_type(50))
    folder = "AWSDynamoDB/01700000000000-abcd1234"
    files = {f"{folder}/data/part{n}.json.gz": items[n::3] for n in range(3)}
    files[f"{folder}/data/empty.json.gz"] = []
    for key, part in files.items():
        body = "".join(json.dumps({"Item": i}) + "\n" for i in part).encode()
        s3.call("PutObject", Bucket=bucket, Key=f"pre/{key}", Body=gzip.compress(body))
    s3.call("PutObject", Bucket=bucket, Key="pre/AWSDynamoDB/other/data/x.json.gz", Body=b"junk")
    listing = "".join(
        json.dumps({"itemCount": len(part), "dataFileS3Key": key}) + "\n"
        for key, part in files.items()
    )
    s3.call(
        "PutObject", Bucket=bucket, Key=f"pre/{folder}/manifest-files.json", Body=listing.encode()
    )
    summary = {"manifestFilesS3Key": f"{folder}/manifest-files.json", "itemCount": 50}
    s3.call(
        "PutObject",
        Bucket=bucket,
        Key=f"pre/{folder}/manifest-summary.json",
        Body=json.dumps(summary).encode(),
    )
    description = {
        "ExportArn": "arn:aws:dynamodb:us-east-1:1:table/t/export/01700000000000-abcd1234",
        "S3Bucket": bucket,
        "ExportManifest": f"{folder}/manifest-summary.json",
        "ItemCount": 50,
    }
    found = _data_files(s3, description, S3Location(bucket, "pre"))
    assert sorted(found) == sorted((f"pre/{k}", len(v)) for k, v in files.items())
    result = S3ExportResult("t", exported=50)
    out = tmp_path / "out.jsonl"
    _Download(s3, bucket, Writer("jsonl", True, None), 4, lambda *a: None).run(found, out, result)
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(map(normalized, lines), key=sort_key) == sorted(
        map(normalized, items), key=sort_key
    )
    assert result.items == 50 and result.files == 4


def test_a_download_that_does_not_add_up_leaves_no_file(conn, bucket, tmp_path):
    from dynaquery.transfer.formats import Writer
    from dynaquery.transfer.s3 import S3, S3ExportResult, _Download

    s3 = S3(conn)
    body = gzip.compress(b'{"Item": {"pk": {"S": "a"}, "sk": {"N": "1"}}}\n')
    s3.call("PutObject", Bucket=bucket, Key="d/one.json.gz", Body=body)
    out = tmp_path / "out.json"
    with pytest.raises(Exception, match="holds 1 items, but the export's manifest says 2"):
        _Download(s3, bucket, Writer("json", False, None), 2, lambda *a: None).run(
            [("d/one.json.gz", 2)], out, S3ExportResult("t", exported=2)
        )
    assert list(tmp_path.iterdir()) == []


def as_json_items(items: list[dict]) -> list[dict]:
    return [as_json(item) for item in items]


# -- import ---------------------------------------------------------------------------------


def test_import_via_s3_creates_the_table_with_every_item(
    conn, flags, bucket, tmp_path, monkeypatch
):
    monkeypatch.setattr("dynaquery.transfer.s3.PART_BYTES", 100_000)  # several files
    source = table_with(conn, items_with_every_type(1100), pitr=False)
    typed = tmp_path / "items.jsonl"
    scanned = scan_all(conn, source)
    typed.write_text("".join(json.dumps(item) + "\n" for item in scanned), encoding="utf-8")
    new = unique("imported")
    done = dynaquery(
        "import",
        new,
        str(typed),
        "--via",
        f"s3://{bucket}/imports",
        "--create",
        "--key",
        "pk:S,sk:N",
        *flags,
    )
    assert done.code == 0, done.stderr
    assert "1,100 items uploaded to" in done.stderr and "1,100 imported, 0 error(s)" in done.stderr
    files = int(done.stderr.split(" file(s)")[0].rsplit(" ", 1)[1])
    assert files == 2  # 1,000 items (one batch) fill the first
    assert list(map(normalized, scan_all(conn, new))) == list(map(normalized, scanned))
    described = conn.call("DescribeTable", {"TableName": new})["Table"]
    assert described["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]


def test_import_via_s3_from_csv_and_a_json_array(conn, flags, bucket, tmp_path):
    (tmp_path / "a.csv").write_text("id,n,note\nx,1,hello\ny,2.50,\n", encoding="utf-8")
    new = unique("from-csv")
    done = dynaquery(
        "import",
        new,
        str(tmp_path / "a.csv"),
        "--via",
        f"s3://{bucket}",
        "--create",
        "--key",
        "id:S",
        *flags,
    )
    assert done.code == 0, done.stderr
    got = {i["id"]["S"]: i for i in conn.call("Scan", {"TableName": new})["Items"]}
    assert got["x"] == {"id": {"S": "x"}, "n": {"N": "1"}, "note": {"S": "hello"}}
    assert got["y"] == {"id": {"S": "y"}, "n": {"N": "2.50"}}
    (tmp_path / "b.json").write_text('[{"k": 7, "v": {"SS": ["a"]}}, {"k": 8}]', encoding="utf-8")
    new = unique("from-json")
    done = dynaquery(
        "import",
        new,
        str(tmp_path / "b.json"),
        "--via",
        f"s3://{bucket}/j",
        "--create",
        "--key",
        "k:N",
        *flags,
    )
    assert done.code == 0, done.stderr
    assert conn.call("DescribeTable", {"TableName": new})["Table"]["ItemCount"] == 2


def test_import_via_s3_reports_bad_lines_and_imports_the_rest(conn, flags, bucket, tmp_path):
    (tmp_path / "in.jsonl").write_text(
        '{"pk": "a", "sk": 1}\nnot json\n{"pk": "b"}\n{"pk": "c", "sk": "text"}\n{"pk": "d", "sk": 2}\n'
    )
    new = unique("partial")
    done = dynaquery(
        "import",
        new,
        str(tmp_path / "in.jsonl"),
        "--via",
        f"s3://{bucket}/p",
        "--create",
        "--key",
        "pk:S,sk:N",
        *flags,
    )
    assert done.code == 1
    assert "line 2: invalid JSON" in done.stderr
    assert "line 3: the key attribute 'sk' is missing" in done.stderr
    assert "line 4: the key attribute 'sk' must be of type N" in done.stderr
    assert "2 items uploaded" in done.stderr and "3 bad line(s) left out" in done.stderr
    assert sorted(i["pk"]["S"] for i in conn.call("Scan", {"TableName": new})["Items"]) == [
        "a",
        "d",
    ]


def test_a_strict_import_via_s3_imports_nothing_and_leaves_nothing_in_s3(
    conn, flags, bucket, tmp_path, monkeypatch
):
    """Parts of about 10 kB: several are uploaded before the bad line, and removed after it."""
    monkeypatch.setattr("dynaquery.transfer.s3.PART_BYTES", 10_000)
    from dynaquery.transfer.s3 import S3

    good = "".join(json.dumps({"pk": f"k{n}", "sk": n}) + "\n" for n in range(2500))
    (tmp_path / "in.jsonl").write_text(good + "oops\n")
    new = unique("strict")
    done = dynaquery(
        "import",
        new,
        str(tmp_path / "in.jsonl"),
        "--via",
        f"s3://{bucket}/s",
        "--create",
        "--key",
        "pk:S,sk:N",
        "--strict",
        *flags,
    )
    assert done.code == 2
    assert "line 2501: invalid JSON" in done.stderr and "nothing was imported" in done.stderr
    assert new not in conn.call("ListTables", {})["TableNames"]
    assert list(S3(conn).keys(bucket, "s/")) == []


def test_import_via_s3_needs_create_and_key_and_a_new_table(conn, flags, bucket, tmp_path):
    (tmp_path / "in.jsonl").write_text('{"pk": "a", "sk": 1}\n')
    file = str(tmp_path / "in.jsonl")
    via = ["--via", f"s3://{bucket}/p"]
    done = dynaquery("import", "t-new", file, *via, "--key", "pk:S", *flags)
    assert done.code == 2 and "--via needs --create" in done.stderr
    assert "only creates a new table" in done.stderr
    done = dynaquery("import", "t-new", file, *via, "--create", *flags)
    assert done.code == 2 and "--create needs the new table's key" in done.stderr
    done = dynaquery("import", "t-new", file, *via, "--create", "--key", "pk:X", *flags)
    assert done.code == 2 and "'pk:X' is not a key attribute" in done.stderr
    done = dynaquery("import", "t-new", file, "--create", "--key", "pk:S", *flags)
    assert done.code == 2 and "go with --via" in done.stderr
    existing = table_with(conn, [], pitr=False)
    done = dynaquery("import", existing, file, *via, "--create", "--key", "pk:S,sk:N", *flags)
    assert done.code == 2
    assert (
        f"The table '{existing}' exists: DynamoDB's import from S3 only creates new tables"
        in done.stderr
    )


def test_an_export_or_import_that_dynamodb_fails_says_why(conn):
    """DynamoDB's own failure (here: the bucket is gone by the time it writes or reads, which
    the commands check first, so the steps are called one by one) is said with its reason."""
    from dynaquery.errors import ServiceError
    from dynaquery.transfer.s3 import (
        S3ExportResult,
        S3ImportResult,
        S3Location,
        _start_export,
        _start_import,
        _wait_export,
        _wait_import,
    )

    table = table_with(conn, items_with_every_type(2))
    arn = conn.call("DescribeTable", {"TableName": table})["Table"]["TableArn"]
    gone = S3Location("gone-" + uuid.uuid4().hex[:8], "p")
    result = S3ExportResult(table, export_arn=_start_export(conn, table, arn, gone))
    with pytest.raises(ServiceError) as failed:
        _wait_export(conn, result, lambda *a: None)
    assert failed.value.exit_code == 1
    assert str(failed.value) == (
        "ExportTableToPointInTime failed: S3NoSuchBucket: the export ended FAILED: "
        "The specified bucket does not exist"
    )
    new = unique("never")
    result = S3ImportResult(new, "jsonl", bucket=gone.bucket, folder="p/", uploaded=3)
    result.import_arn = _start_import(conn, new, [("pk", "S")], gone.bucket, "p/")
    with pytest.raises(ServiceError) as failed:
        _wait_import(conn, result, lambda *a: None)
    assert (
        "ImportTable failed: S3NoSuchBucket: the import ended FAILED: The specified bucket"
        in str(failed.value)
    )
    assert f"0 of 3 item(s) were imported; the files are under s3://{gone.bucket}/p/" in str(
        failed.value
    )


def test_access_denied_to_the_bucket_is_said(tmp_path):
    """moto checking IAM: a user allowed DynamoDB but not S3 is told which access it lacks."""
    from dynaquery import Connection

    from support import iam_user, start_moto_with_iam

    server, iam = start_moto_with_iam(9)  # the probe, 2 users of 3 calls, a bucket, a table
    try:
        dynamo_only = iam_user(iam, "dynamo-only", ["dynamodb:*"])
        # moto checks HeadBucket as "s3:HeadBucket" (AWS: s3:ListBucket)
        no_put = iam_user(iam, "no-put", ["dynamodb:*", "s3:ListBucket", "s3:HeadBucket"])
        setup = Connection(
            endpoint_url=server.endpoint_url,
            region="us-east-1",
            access_key_id="x",
            secret_access_key="x",
        )
        from dynaquery.transfer.s3 import S3

        S3(setup).call("CreateBucket", Bucket="guarded-bucket")
        setup.call("CreateTable", pk_sk_table("guarded"))

        def flags(keys):
            return [
                "--endpoint-url",
                server.endpoint_url,
                "--region",
                "us-east-1",
                "--access-key-id",
                keys[0],
                "--secret-access-key",
                keys[1],
            ]

        out = tmp_path / "out.jsonl"
        done = dynaquery(
            "export",
            "guarded",
            "--via",
            "s3://guarded-bucket/p",
            "-o",
            str(out),
            *flags(dynamo_only),
        )
        assert done.code == 1, done.stderr
        assert (
            "S3 HeadBucket failed: AccessDenied: access to s3://guarded-bucket/ is denied"
            in done.stderr
        )
        assert "s3:ListBucket" in done.stderr and not out.exists()
        (tmp_path / "in.jsonl").write_text('{"pk": "a", "sk": 1}\n')
        done = dynaquery(
            "import",
            "guarded-copy",
            str(tmp_path / "in.jsonl"),
            "--via",
            "s3://guarded-bucket/p",
            "--create",
            "--key",
            "pk:S,sk:N",
            *flags(no_put),
        )
        assert done.code == 1, done.stderr
        assert (
            "S3 PutObject failed: AccessDenied: access to s3://guarded-bucket/p/guarded-copy-import-"
            in done.stderr
        )
        assert no_put[1] not in done.stderr  # the secret is never said
    finally:
        server.stop()


def test_an_output_that_cannot_be_written_is_refused_before_the_export_starts(
    conn, flags, bucket, tmp_path
):
    table = table_with(conn, items_with_every_type(2))
    out = tmp_path / "no" / "such" / "folder.jsonl"
    done = dynaquery("export", table, "--via", f"s3://{bucket}/w", "-o", str(out), *flags)
    assert done.code == 2 and "is no folder one can write to" in done.stderr, done.stderr
    arn = conn.call("DescribeTable", {"TableName": table})["Table"]["TableArn"]
    assert conn.call("ListExports", {"TableArn": arn}).get("ExportSummaries", []) == []


def test_s3_goes_to_the_endpoint_given(conn, flags, bucket, tmp_path):
    """By default S3 is reached at the data source's custom endpoint (moto's, where the bucket
    is); --s3-endpoint-url sends it elsewhere (here, a port where nothing answers)."""
    from dynaquery.local import free_port

    table = table_with(conn, items_with_every_type(2))
    nowhere = f"http://127.0.0.1:{free_port()}"
    done = dynaquery(
        "export",
        table,
        "--via",
        f"s3://{bucket}/e",
        "--s3-endpoint-url",
        nowhere,
        "--max-attempts",
        "1",
        *flags,
    )
    assert done.code == 1, done.stderr
    assert f"Could not connect to {nowhere}" in done.stderr
    done = dynaquery("export", table, "--s3-endpoint-url", nowhere, *flags)
    assert done.code == 2 and "--s3-endpoint-url goes with --via" in done.stderr
