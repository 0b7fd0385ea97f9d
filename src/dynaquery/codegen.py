"""A prepared request as a program that sends it: boto3, the AWS CLI, the AWS SDK for JavaScript v3.

The program makes the same call with the same typed parameters (numbers as the strings of
{"N": ...}, binary as its bytes), to the connection's endpoint and region; it never holds
credentials: it takes them where the SDK or the CLI looks (environment, profile, instance role).
The operation's names come from the service model: nothing here is written per operation.
"""

from __future__ import annotations

import base64
import datetime
import json
import shlex
from dataclasses import dataclass
from typing import Any

from botocore import xform_name

from .connection import Connection
from .errors import ConfigurationError, InputError
from .request import Request

LANGUAGES = ("python", "aws-cli", "javascript")


@dataclass(frozen=True)
class _Blob:
    data: bytes

    @property
    def base64(self) -> str:
        return base64.b64encode(self.data).decode("ascii")


@dataclass(frozen=True)
class _Timestamp:
    value: Any  # ISO text, a datetime, or seconds since the epoch, as botocore takes them

    @property
    def text(self) -> str:
        return self.value.isoformat() if isinstance(self.value, datetime.datetime) else self.value


def generate(
    request: Request, language: str, *, endpoint_url: str | None = None, region: str | None = None
) -> str:
    """The program, in `language` (one of LANGUAGES), that sends `request` to the endpoint."""
    writers = {"python": _python, "aws-cli": _aws_cli, "javascript": _javascript}
    if language not in writers:
        raise InputError(f"No code for {language!r}: choose one of {', '.join(LANGUAGES)}.")
    params = _marked(request.params, request.operation.input_shape)
    return writers[language](request, params, endpoint_url, region)


def for_config(request: Request, language: str, config) -> str:
    """The program for `request`, to the endpoint and region of `config` (a ConnectionConfig;
    a saved data source's has no secrets, and none would be written)."""
    config.check_values()  # an endpoint that is no URL, a bad region: refused as for a run
    try:  # only the region is asked of the connection: no credentials are looked up
        region = config.region or Connection(config).region
    except ConfigurationError:
        region = None  # the program takes the region where the SDK or the CLI looks for it
    return generate(request, language, endpoint_url=config.endpoint_url, region=region)


def _marked(value: Any, shape) -> Any:
    """`value` with its blobs and timestamps marked, following the model's shapes."""
    if shape is None:
        return value
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        return {k: _marked(v, shape.members.get(k)) for k, v in value.items()}
    if kind == "list" and isinstance(value, list):
        return [_marked(v, shape.member) for v in value]
    if kind == "map" and isinstance(value, dict):
        return {k: _marked(v, shape.value) for k, v in value.items()}
    if kind == "blob":
        return _Blob(value if isinstance(value, bytes) else str(value).encode("utf-8"))
    if kind == "timestamp":
        return _Timestamp(value)
    return value


def _has_blob(value: Any) -> bool:
    if isinstance(value, _Blob):
        return True
    if isinstance(value, dict):
        return any(_has_blob(v) for v in value.values())
    return isinstance(value, list) and any(_has_blob(v) for v in value)


def _literal(value: Any, scalar, indent: int = 0, step: int = 4) -> str:
    """`value` as source text, indented; `scalar` writes what is neither a dict nor a list."""
    pad, inner = " " * indent, " " * (indent + step)
    short = _short(value, scalar)
    if short is not None and indent + len(short) <= 88:
        return short
    if isinstance(value, dict) and value:
        items = [
            f"{inner}{json.dumps(k, ensure_ascii=False)}: {_literal(v, scalar, indent + step, step)}"
            for k, v in value.items()
        ]
        return "{\n" + ",\n".join(items) + f",\n{pad}}}"
    if isinstance(value, list) and value:
        items = [f"{inner}{_literal(v, scalar, indent + step, step)}" for v in value]
        return "[\n" + ",\n".join(items) + f",\n{pad}]"
    if isinstance(value, (dict, list)):
        return "{}" if isinstance(value, dict) else "[]"
    return scalar(value)


def _short(value: Any, scalar) -> str | None:
    """`value` on one line, if it is small: a typed value such as {"N": "1"}, a short list."""
    if isinstance(value, dict) and len(value) <= 2:
        parts = [(json.dumps(k, ensure_ascii=False), _short(v, scalar)) for k, v in value.items()]
        if all(v is not None for _, v in parts):
            return "{" + ", ".join(f"{k}: {v}" for k, v in parts) + "}"
        return None
    if isinstance(value, list) and len(value) <= 4:
        parts = [_short(v, scalar) for v in value]
        return "[" + ", ".join(parts) + "]" if None not in parts else None
    if isinstance(value, (dict, list)):
        return None
    return scalar(value)


def _python_scalar(value: Any) -> str:
    if isinstance(value, _Blob):
        return f'base64.b64decode("{value.base64}")'
    if isinstance(value, _Timestamp):
        return _python_scalar(value.value)
    if isinstance(value, datetime.datetime):
        return f"datetime.datetime.fromisoformat({value.isoformat()!r})"
    if isinstance(value, (bool, type(None))):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _javascript_scalar(value: Any) -> str:
    if isinstance(value, _Blob):
        return f'Buffer.from("{value.base64}", "base64")'
    if isinstance(value, _Timestamp):
        seconds = isinstance(value.value, (int, float)) and not isinstance(value.value, bool)
        when = f"{value.value} * 1000" if seconds else json.dumps(value.text)
        return f"new Date({when})"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _json_value(value: Any) -> Any:
    """The parameters as the AWS CLI reads them: binary as base64 text, timestamps as text."""
    if isinstance(value, _Blob):
        return value.base64
    if isinstance(value, _Timestamp):
        return value.text
    if isinstance(value, dict):
        return {k: _json_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_value(v) for v in value]
    return value


_PYTHON_PRINT = '''

def as_json(value):
    """What JSON has no type for: binary as base64, dates as ISO text."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


response.pop("ResponseMetadata", None)
print(json.dumps(response, indent=2, default=as_json))
'''


def _python(request: Request, params: Any, endpoint_url: str | None, region: str | None) -> str:
    client_args = ['"dynamodb"'] + ([f"region_name={json.dumps(region)}"] if region else [])
    if endpoint_url:
        client_args.append(f"endpoint_url={json.dumps(endpoint_url)}")
    text = _literal(params, _python_scalar)
    imports = ["import base64", "import json"]
    if "datetime.datetime" in text:
        imports.insert(1, "import datetime")
    return "\n".join(
        [
            f"# {request.name} with boto3; credentials come from the environment or the profile.",
            *imports,
            "",
            "import boto3",
            "",
            f"client = boto3.client({', '.join(client_args)})",
            f"params = {text}",
            f"response = client.{request.operation.python_name}(**params)",
            _PYTHON_PRINT,
        ]
    )


def _aws_cli(request: Request, params: Any, endpoint_url: str | None, region: str | None) -> str:
    data = json.dumps(_json_value(params), ensure_ascii=False, separators=(",", ":"))
    words = [
        f"aws dynamodb {xform_name(request.name, '-')}",
        f"--cli-input-json {shlex.quote(data)}",
    ]
    if _has_blob(params):
        # Binary is base64 in the JSON, which AWS CLI v2 reads by default; v1 cannot take this
        # flag and so refuses the command rather than send the base64 text as the bytes.
        words.append("--cli-binary-format base64")
    if endpoint_url:
        words.append(f"--endpoint-url {shlex.quote(endpoint_url)}")
    if region:
        words.append(f"--region {shlex.quote(region)}")
    return " \\\n    ".join(words) + "\n"


_JAVASCRIPT_PRINT = """
const binaryAsBase64 = (key, value) =>
  value instanceof Uint8Array ? Buffer.from(value).toString("base64") : value;
console.log(JSON.stringify(response, binaryAsBase64, 2));
"""


def _braces(items: list[str]) -> str:
    return "{ " + ", ".join(items) + " }" if items else "{}"


def _javascript(request: Request, params: Any, endpoint_url: str | None, region: str | None) -> str:
    command = f"{request.name}Command"
    settings = [f"region: {json.dumps(region)}"] if region else []
    if endpoint_url:
        settings.append(f"endpoint: {json.dumps(endpoint_url)}")
    return "\n".join(
        [
            f"// {request.name} with the AWS SDK for JavaScript v3 (npm install "
            "@aws-sdk/client-dynamodb),",
            "// as an ES module (program.mjs); credentials come from the environment or the "
            "profile.",
            f'import {{ DynamoDBClient, {command} }} from "@aws-sdk/client-dynamodb";',
            "",
            f"const client = new DynamoDBClient({_braces(settings)});",
            f"const params = {_literal(params, _javascript_scalar, step=2)};",
            f"const {{ $metadata, ...response }} = await client.send(new {command}(params));",
            _JAVASCRIPT_PRINT,
        ]
    )
