"""botocore's data files through dynaquery's loader: the same data, cached or not."""

from __future__ import annotations

import json
import os

from botocore.loaders import create_loader as botocore_loader

from dynaquery._speed.botocore_data import CachedJSONFileLoader, create_loader


def test_every_file_a_dynamodb_client_needs_is_the_same_from_the_cache(tmp_path):
    plain = botocore_loader()
    for _ in range(2):  # the first pass parses and stores, the second reads the cache
        ours = create_loader(tmp_path)
        assert ours.load_service_model("dynamodb", "service-2") == plain.load_service_model(
            "dynamodb", "service-2"
        )
        assert ours.load_service_model("dynamodb", "paginators-1") == plain.load_service_model(
            "dynamodb", "paginators-1"
        )
        for name in ("endpoints", "partitions", "_retry", "sdk-default-configuration"):
            assert ours.load_data(name) == plain.load_data(name), name
    stored = list((tmp_path / "botocore-data").iterdir())
    assert len(stored) >= 6 and all(p.suffix == ".marshal" for p in stored)


def test_a_changed_file_is_parsed_again_and_a_broken_cache_entry_ignored(tmp_path):
    source = tmp_path / "data" / "thing"
    source.parent.mkdir()
    source.with_suffix(".json").write_text(json.dumps({"a": 1}))
    loader = CachedJSONFileLoader(tmp_path / "cache")
    assert loader.load_file(str(source)) == {"a": 1}
    assert loader.load_file(str(source)) == {"a": 1}  # from the cache

    source.with_suffix(".json").write_text(json.dumps({"a": 2, "b": [1]}))
    os.utime(source.with_suffix(".json"), ns=(1, 1))  # another mtime, whatever the clock says
    assert loader.load_file(str(source)) == {"a": 2, "b": [1]}

    for entry in (tmp_path / "cache").iterdir():
        entry.write_bytes(b"\x00 not marshal data")
    assert loader.load_file(str(source)) == {"a": 2, "b": [1]}
    assert loader.load_file(str(tmp_path / "data" / "missing")) is None


def test_a_cache_that_cannot_be_written_is_no_error(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    loader = create_loader(blocker)  # the cache directory would be inside a file
    model = loader.load_service_model("dynamodb", "service-2")
    assert "GetItem" in model["operations"]
    assert not (tmp_path / "a-file" / "botocore-data").exists() and blocker.is_file()
