"""botocore's data files (the DynamoDB model, endpoints, retry rules), loaded for a quick start.

Justified by benchmark 5, cold start (`scripts/bench --only coldstart`; docs/performance.md,
"5. Cold start"): with the cache, 38 ms of parsing become 10 ms.

Two things about botocore's own loader cost a short command much of its time: asked whether a
service exists, it lists the directories of every service it has; and it parses the same JSON
files at every start, 1.3 MB of them for one DynamoDB call (`endpoints.json` alone takes about
26 ms). This loader asks about DynamoDB alone first, and keeps each parsed file in the cache
directory as `marshal` data, which loads about four times faster; a file is parsed again when
it, or botocore, changes. Everything else is botocore's.
"""

from __future__ import annotations

import hashlib
import marshal
import os
from pathlib import Path
from typing import Any

from botocore.loaders import JSONFileLoader, Loader

MODEL_CACHE_VERSION = 1


def default_cache_dir() -> Path:
    """Where dynaquery keeps what it can fetch or compute again (DYNAQUERY_CACHE)."""
    env = os.environ.get("DYNAQUERY_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "dynaquery"


def _plain(value: Any) -> Any:
    """botocore parses into OrderedDicts; marshal keeps plain dicts (ordered too): the same
    shape whether a file came from the cache or not."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


class CachedJSONFileLoader(JSONFileLoader):
    """botocore's JSON file loader, with each parsed file kept in `directory`."""

    def __init__(self, directory: Path):
        import botocore

        self.directory = directory
        self._stamp = f"{MODEL_CACHE_VERSION}\0{botocore.__version__}"

    def _cache_path(self, full_path: str) -> Path | None:
        try:
            stat = os.stat(full_path)
        except OSError:
            return None
        key = f"{self._stamp}\0{full_path}\0{stat.st_mtime_ns}\0{stat.st_size}"
        return self.directory / (hashlib.sha256(key.encode()).hexdigest()[:40] + ".marshal")

    def load_file(self, file_path: str) -> Any:
        for extension in (".json", ".json.gz"):
            cached = self._cache_path(file_path + extension)
            if cached is None:
                continue
            try:
                return marshal.loads(cached.read_bytes())
            except (OSError, EOFError, ValueError, TypeError):
                pass  # not cached yet, or unreadable: parse it
            data = super().load_file(file_path)
            if data is not None:
                data = _plain(data)
                self._store(cached, data)
            return data
        return None

    def _store(self, path: Path, data: Any) -> None:
        """Written whole or not at all (a temporary file renamed); a cache that cannot be
        written is no error."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
            with open(temporary, "wb") as file:
                file.write(marshal.dumps(data))
            os.replace(temporary, path)
        except (OSError, ValueError):
            pass


def create_loader(cache_dir: Path | None = None) -> Loader:
    """botocore's data loader, with the parsed files cached and DynamoDB looked up first."""
    from botocore.loaders import create_loader as botocore_loader

    loader = botocore_loader()
    directory = (cache_dir or default_cache_dir()) / "botocore-data"
    loader.file_loader = CachedJSONFileLoader(directory)
    return _looks_up_one_service_first(loader)


def _looks_up_one_service_first(loader: Loader) -> Loader:
    """botocore's loader, asked whether a service exists, lists every service it has (hundreds
    of directories, at each start of the command): look at the one asked about first."""
    everything = loader.list_available_services

    class Services(list):
        def __init__(self, type_name: str):
            super().__init__()
            self.type_name = type_name
            self.listed = False

        def _all(self) -> list:
            if not self.listed:
                self.extend(everything(self.type_name))
                self.listed = True
            return self

        def __contains__(self, name) -> bool:
            for path in loader.search_paths:
                directory = os.path.join(path, name)
                if os.path.isdir(directory) and any(
                    loader.file_loader.exists(os.path.join(directory, version, self.type_name))
                    for version in os.listdir(directory)
                ):
                    return True
            return list.__contains__(self._all(), name)

        def __iter__(self):
            return list.__iter__(self._all())

        def __len__(self) -> int:
            return list.__len__(self._all())

        def __getitem__(self, index):
            return list.__getitem__(self._all(), index)

    loader.list_available_services = Services
    return loader
