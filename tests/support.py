"""Helpers shared by the tests: running the `dynaquery` command, and the spec's examples."""

from __future__ import annotations

import gc
import json
import os
import re
import subprocess
import sys
import threading
import time
import traceback
import urllib.request
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The specification's documents, when they sit beside the repository; only compared with the copy.
SPEC_DIR = Path(os.environ.get("DYNAQUERY_SPEC_DIR", ROOT.parent / "shared" / "spec"))
# The examples the tests run: every heading and JSON block of those documents, kept in the
# repository.
SPEC_DATA = ROOT / "tests" / "data" / "spec"
REFRESH_SPEC = ".venv/bin/python tests/support.py --refresh-spec"


@dataclass
class Completed:
    code: int
    stdout: str
    stderr: str

    def json(self):
        return json.loads(self.stdout, parse_float=Decimal)


def clean_env(**extra: str) -> dict:
    """An environment with no AWS settings of the machine leaking in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DYNAQUERY_"))}
    env.update(
        {
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
        }
    )
    env.update(extra)
    return env


def dynaquery(
    *args: str, stdin: str | None = None, env: dict | None = None, timeout: float = 120
) -> Completed:
    """Run the `dynaquery` command in this process with click's CliRunner: the same arguments,
    stdin, environment (`env` is the whole of it, as for a process), stdout, stderr and exit
    code as `dynaquery_process` (help text aside: CliRunner wraps it at 80 columns), without
    starting Python for each call. A run longer than `timeout` seconds fails once it ends (a
    process would have been stopped)."""
    from click.testing import CliRunner

    from dynaquery.cli import cli  # the group, not main(): main turns the collector off

    whole = env if env is not None else clean_env()
    unset: dict[str, str | None] = {name: None for name in os.environ if name not in whole}
    started = time.monotonic()
    with _process_state_kept():
        result = CliRunner().invoke(
            cli, list(args), input=stdin, env={**unset, **whole}, prog_name="dynaquery"
        )
    if time.monotonic() - started > timeout:
        raise subprocess.TimeoutExpired(["dynaquery", *args], timeout)
    stderr = result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        stderr += "".join(traceback.format_exception(result.exception))  # as Python would print
    return Completed(result.exit_code, result.stdout, stderr)


@contextmanager
def _process_state_kept():
    """Undo what a command may change in the process beyond what CliRunner restores: variables
    it sets itself, and the collector it freezes for a long command (collect_garbage)."""
    environ, collecting = dict(os.environ), gc.isenabled()
    try:
        yield
    finally:
        for name in os.environ.keys() - environ.keys():
            del os.environ[name]
        os.environ.update(environ)
        gc.unfreeze()
        if not collecting:
            gc.disable()


def dynaquery_process(
    *args: str, stdin: str | None = None, env: dict | None = None, timeout: float = 120
) -> Completed:
    """Run the installed `dynaquery` command for real, in a subprocess: for what only a process
    shows (its entry point, exit status, signals, output at the file descriptor level)."""
    completed = subprocess.run(
        [sys.executable, "-m", "dynaquery", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env if env is not None else clean_env(),
        timeout=timeout,
    )
    return Completed(completed.returncode, completed.stdout, completed.stderr)


def start_moto_with_iam(free_calls: int):
    """moto's server checking signatures and IAM policies after `free_calls` unchecked requests
    (its readiness probe and the setup calls). Returns the server and an IAM client to set up
    users and roles with."""
    import botocore.session
    import moto.settings  # noqa: F401 - read first: this process's own moto stays unchecked

    from dynaquery.local import start_moto

    previous = os.environ.get("INITIAL_NO_AUTH_ACTION_COUNT")
    os.environ["INITIAL_NO_AUTH_ACTION_COUNT"] = str(free_calls)
    try:
        server = start_moto()
    finally:
        if previous is None:
            os.environ.pop("INITIAL_NO_AUTH_ACTION_COUNT")
        else:
            os.environ["INITIAL_NO_AUTH_ACTION_COUNT"] = previous
    iam = botocore.session.get_session().create_client(
        "iam",
        region_name="us-east-1",
        endpoint_url=server.endpoint_url,
        aws_access_key_id="setup",
        aws_secret_access_key="setup",
    )
    return server, iam


def iam_user(iam, name: str, actions: list[str]) -> tuple[str, str]:
    """A user allowed `actions` (three setup calls); its access key id and secret."""
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    iam.put_user_policy(
        UserName=name,
        PolicyName="p",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}],
            }
        ),
    )
    return key["AccessKeyId"], key["SecretAccessKey"]


def pk_sk_table(name: str) -> dict:
    """CreateTable's parameters for an on-demand table keyed by pk (a string) and sk (a number)."""
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


class Endpoint:
    """A database on a local engine, isolated for one test, and the flags that reach it."""

    def __init__(self, endpoint_url: str, region: str = "us-east-1", access_key: str | None = None):
        self.endpoint_url = endpoint_url
        self.region = region
        # DynamoDB Local keeps one database per access key and region: a fresh key, a fresh
        # database.
        self.access_key = access_key or "test" + uuid.uuid4().hex[:12]
        self.secret_key = "secret-" + uuid.uuid4().hex

    @property
    def flags(self) -> list[str]:
        return [
            "--endpoint-url",
            self.endpoint_url,
            "--region",
            self.region,
            "--access-key-id",
            self.access_key,
            "--secret-access-key",
            self.secret_key,
        ]

    def settings(self) -> dict:
        return {
            "endpoint_url": self.endpoint_url,
            "region": self.region,
            "access_key_id": self.access_key,
            "secret_access_key": self.secret_key,
        }

    def boto3(self, kind: str = "client"):
        """A plain boto3 client (or resource) of this database: what the tests check against."""
        import boto3

        return getattr(boto3, kind)(
            "dynamodb",
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
        )

    def connection(self):
        from dynaquery import Connection

        return Connection(**self.settings())

    def run(self, operation: str, params: str | None = None, *more: str) -> Completed:
        # --yes: the examples that delete data or change a table run without asking.
        given = [params] if params is not None else []
        return dynaquery("run", operation, *given, *more, "--yes", *self.flags)


def reset_moto(endpoint_url: str) -> None:
    request = urllib.request.Request(f"{endpoint_url}/moto-api/reset", method="POST")
    urllib.request.urlopen(request, timeout=30).read()


@dataclass(frozen=True)
class Example:
    document: str  # the file's first three characters: 000, 001
    heading: str  # the operation's heading in the document
    index: int  # the n-th JSON block under that heading
    text: str

    @property
    def id(self) -> str:
        return f"{self.document}:{self.heading}#{self.index}"


_SPEC_PARTS = re.compile(r"^### ([^\n]+)$|^```json\n(.*?)^```", re.M | re.S)


def spec_examples(directory: Path = SPEC_DATA) -> list[Example]:
    """Every ```json block of the spec's documents, verbatim, with the heading it stands under."""
    examples = []
    for path in _spec_files(directory):
        heading, counts = None, {}
        for match in _SPEC_PARTS.finditer(path.read_text(encoding="utf-8")):
            if match.group(1):
                heading = match.group(1).strip()
            else:
                n = counts[heading] = counts.get(heading, -1) + 1
                examples.append(Example(path.name[:3], heading, n, match.group(2)))
    return examples


def spec_headings(directory: Path = SPEC_DATA) -> list[tuple[str, str]]:
    """(document, heading) of every operation section, including those with no JSON block."""
    found = []
    for path in _spec_files(directory):
        for heading in re.findall(r"^### (.+)$", path.read_text(encoding="utf-8"), re.M):
            found.append((path.name[:3], heading.strip()))
    return found


def _spec_files(directory: Path) -> list[Path]:
    files = sorted(Path(directory).glob("[0-9][0-9][0-9]_*.txt"))
    if not files:
        raise FileNotFoundError(f"no spec documents in {directory}")
    return files


def spec_extract(text: str) -> str:
    """A document's headings and JSON blocks, in order and verbatim: what the tests read of it."""
    parts = []
    for match in _SPEC_PARTS.finditer(text):
        parts.append(
            f"### {match.group(1)}\n" if match.group(1) else f"```json\n{match.group(2)}```\n"
        )
    return "".join(parts)


def spec_copy_differences(source: Path = SPEC_DIR, copy: Path = SPEC_DATA) -> list[str]:
    """How the repository's copy differs from the documents in `source`: [] when it matches."""
    wanted = {p.name: spec_extract(p.read_text(encoding="utf-8")) for p in _spec_files(source)}
    have = {
        p.name: _strip_banner(p.read_text(encoding="utf-8"))
        for p in sorted(Path(copy).glob("*.txt"))
    }
    differences = [f"{name}: missing from {copy}" for name in sorted(wanted.keys() - have.keys())]
    differences += [
        f"{name}: in {copy} but not in {source}" for name in sorted(have.keys() - wanted.keys())
    ]
    for name in sorted(wanted.keys() & have.keys()):
        if wanted[name] != have[name]:
            old, new = set(have[name].split("\n### ")), set(wanted[name].split("\n### "))
            changed = sorted({part.splitlines()[0].lstrip("# ") for part in old ^ new})
            differences.append(f"{name}: differs under {', '.join(changed)}")
    return differences


_BANNER = (
    "<!-- The headings and JSON blocks of the specification's {name}, verbatim.\n"
    "     Refresh with: {refresh} -->\n"
)


def _strip_banner(text: str) -> str:
    return text.split("-->\n", 1)[1] if text.startswith("<!--") else text


def refresh_spec_copy(source: Path = SPEC_DIR, copy: Path = SPEC_DATA) -> list[Path]:
    """Rewrite the repository's copy from the documents in `source`."""
    copy.mkdir(parents=True, exist_ok=True)
    for old in copy.glob("*.txt"):
        old.unlink()
    written = []
    for path in _spec_files(source):
        target = copy / path.name
        target.write_text(
            _BANNER.format(name=path.name, refresh=REFRESH_SPEC)
            + spec_extract(path.read_text(encoding="utf-8")),
            encoding="utf-8",
        )
        written.append(target)
    return written


if __name__ == "__main__":
    if sys.argv[1:2] != ["--refresh-spec"] or len(sys.argv) > 3:
        sys.exit(
            "usage: tests/support.py --refresh-spec [SPEC_DIR]  (default: $DYNAQUERY_SPEC_DIR "
            "or ../shared/spec)"
        )
    for written in refresh_spec_copy(Path(sys.argv[2]) if len(sys.argv) == 3 else SPEC_DIR):
        print(f"wrote {written.relative_to(ROOT)}")


def all_at_once(count: int, action) -> list:
    """Run action(i) in `count` threads started together; each one's result or exception."""
    barrier, outcomes = threading.Barrier(count), [None] * count

    def one(i):
        barrier.wait()
        try:
            outcomes[i] = action(i)
        except Exception as error:  # noqa: BLE001 - the test looks at every outcome
            outcomes[i] = error

    threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return outcomes


def journal_workspace(home, endpoint_url: str, prefix: str):
    """A workspace in `home` with the data sources "on" (journal on) and "off" on DynamoDB
    Local, a fresh table (`.table`, pk and sk), a boto3 client (`.dynamodb`) to check what is
    stored, its `.endpoint` and the command's environment (`.env`)."""
    from dynaquery import Workspace

    workspace = Workspace.open(home=home)
    endpoint = Endpoint(endpoint_url)
    workspace.endpoint = endpoint
    workspace.add_datasource("on", **endpoint.settings(), journal=True)
    workspace.add_datasource("off", **endpoint.settings())
    workspace.table = prefix + uuid.uuid4().hex[:10]
    workspace.run("on", "CreateTable", pk_sk_table(workspace.table))
    workspace.dynamodb = endpoint.boto3()
    workspace.env = clean_env(DYNAQUERY_HOME=str(home))
    return workspace
