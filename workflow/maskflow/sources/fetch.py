"""`maskflow fetch`: a dataset's raw files and manifest, from its `source:` config.

    maskflow fetch --dataset masks --spec '{"source": {"kind": "synthetic", "photos": 40, "seed": 7}}' \
        --raw-dir resources/masks/raw --manifest resources/masks/manifest.json

Source kinds (schema: workflow/schemas/config.schema.yaml, $defs/source), one function each in
SOURCES: `synthetic` (generated photos), `url` (http(s)/file download of a file or archive),
`path` (a local folder, archive or file) and `sklearn` (scikit-learn's bundled data).

A `url` source with a `path` uses that file instead of downloading when it exists (checked
against `sha256`), so one preset works offline once the file is put in place. A `hint` (what to
download, from where, where to put it) ends the one-line error when a `path` is missing or a
download fails; `local.missing_source` gives that line before any job runs (workflow/rules/common.smk).

The raw folder is a Snakemake directory() output, so it is built in a temporary sibling folder
and renamed into place only when complete: an interrupted fetch leaves no folder that looks
finished. manifest.json (path, bytes and sha256 of every file) is written last, atomically.
"""

from __future__ import annotations

import argparse
import inspect
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml

from maskflow.errors import ConfigError, DataError, DownloadError
from maskflow.io.atomic import write_json
from maskflow.io.hashing import sha256_file
from maskflow.options import json_option
from maskflow.sources import download, local, sklearn_data

log = logging.getLogger(__name__)

SCHEMA = Path(__file__).resolve().parents[2] / "schemas" / "config.schema.yaml"


def _synthetic(source: dict, raw_dir: Path, work: Path, workers: int) -> None:
    from maskflow.sources import synthetic

    kwargs = {key: value for key, value in source.items() if key != "kind"}
    if "faces" in kwargs:
        kwargs["faces"] = tuple(kwargs["faces"])  # JSON has no tuples
    try:
        inspect.signature(synthetic.generate).bind(raw_dir, **kwargs)
    except TypeError as error:
        raise ConfigError(f"source (kind synthetic): {error}") from None
    synthetic.generate(raw_dir, **kwargs, workers=workers)


def _url(source: dict, raw_dir: Path, work: Path, workers: int) -> None:
    url = source["url"]
    name = source.get("filename") or download.url_basename(url)
    if name in (".", "..") or "/" in name or "\\" in name:
        raise ConfigError(f"source.filename: {name!r} must be a plain file name, without folders")
    copy = _local_copy(source)
    if copy is not None:
        local.place(copy, raw_dir, name)
        return
    options = {key: source[key] for key in ("sha256", "retries", "timeout") if key in source}
    try:
        if local.archive_unpacker(name) is None:
            download.download(url, raw_dir / name, **options)
        else:
            # Archives are downloaded beside the raw folder, never into it: only their contents stay.
            local.place(download.download(url, work / name, **options), raw_dir, name)
    except DownloadError as error:
        if not source.get("hint"):
            raise
        raise DownloadError(f"{error}. {' '.join(source['hint'].split())}") from None


def _local_copy(source: dict) -> Path | None:
    """A url source's `path` when that file exists (checked against `sha256` like a download),
    so one config works offline with the file put in place and online without it."""
    if not source.get("path"):
        return None
    copy = Path(source["path"]).expanduser()
    if not copy.is_file():
        log.info("%s: no local copy at %s; downloading %s", source["path"], copy.absolute(), source["url"])
        return None
    actual = sha256_file(copy)
    if source.get("sha256") and actual.lower() != source["sha256"].lower():
        raise DataError(
            f"{copy}: the local copy of {source['url']} has sha256 {actual}, expected {source['sha256'].lower()} "
            "(another version, or damaged); replace it or remove it to download"
        )
    log.info("%s: using the local copy instead of downloading %s", copy, source["url"])
    return copy


def _path(source: dict, raw_dir: Path, work: Path, workers: int) -> None:
    local.place_path(source["path"], raw_dir, source.get("hint"))


def _sklearn(source: dict, raw_dir: Path, work: Path, workers: int) -> None:
    sklearn_data.write_dataset(source["name"], raw_dir)


# source kind -> function(source spec, raw folder being built, scratch folder beside it, processes
# it may use).
SOURCES: dict[str, Callable[[dict, Path, Path, int], None]] = {
    "synthetic": _synthetic,
    "url": _url,
    "path": _path,
    "sklearn": _sklearn,
}


def check_source(spec: dict) -> dict:
    """The `source` of a fetch spec, checked against the config schema's $defs/source."""
    import jsonschema

    if not isinstance(spec, dict) or not isinstance(spec.get("source"), dict):
        raise ConfigError('--spec: expected a JSON object {"source": {"kind": ..., ...}}')
    source = spec["source"]
    defs = yaml.safe_load(SCHEMA.read_text())["$defs"]
    validator = jsonschema.Draft202012Validator({"$defs": defs, "$ref": "#/$defs/source"})
    error = jsonschema.exceptions.best_match(validator.iter_errors(source))
    if error is not None:
        where = ".".join(["source", *map(str, error.absolute_path)])
        if error.validator == "enum":
            message = (
                f"{error.instance!r} is not allowed; allowed values: {', '.join(map(repr, error.validator_value))}"
            )
        else:
            message = error.message
        raise ConfigError(f"{where}: {message}")
    return source


def manifest_entries(raw_dir: Path) -> list[dict]:
    """Every file under `raw_dir`: path (relative, /-separated), bytes and sha256, sorted by path."""
    files = (p for p in raw_dir.rglob("*") if p.is_file())
    entries = [
        {"path": p.relative_to(raw_dir).as_posix(), "bytes": p.stat().st_size, "sha256": sha256_file(p)} for p in files
    ]
    return sorted(entries, key=lambda entry: entry["path"])


def fetch(dataset: str, source: dict, raw_dir: Path, manifest: Path, workers: int = 1) -> dict:
    """Build `raw_dir` from `source` (all or nothing) with up to `workers` processes, then write and
    return the manifest."""
    raw_dir = Path(raw_dir)
    raw_dir.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    # One scratch folder beside the target holds the folder being built and any download;
    # whatever happens, it is removed, so a failure leaves neither raw files nor temporaries.
    with tempfile.TemporaryDirectory(dir=raw_dir.parent, prefix=f".{raw_dir.name}.fetch-") as scratch:
        building, work = Path(scratch) / "raw", Path(scratch) / "work"
        building.mkdir()
        work.mkdir()
        SOURCES[source["kind"]](source, building, work, workers)
        if raw_dir.exists():
            shutil.rmtree(raw_dir)
        os.replace(building, raw_dir)
    content = {"dataset": dataset, "source": source, "files": manifest_entries(raw_dir)}
    write_json(manifest, content)
    total = sum(entry["bytes"] for entry in content["files"])
    log.info(
        "%s: %d files, %d bytes from a %s source in %.1f s",
        dataset,
        len(content["files"]),
        total,
        source["kind"],
        time.perf_counter() - started,
    )
    return content


def _threads_from_environment() -> int:
    """OMP_NUM_THREADS when it is one whole number (it may also be a list like "4,2"), else 1."""
    value = os.environ.get("OMP_NUM_THREADS", "").strip()
    return int(value) if value.isdigit() and int(value) > 0 else 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", required=True, help="dataset name (recorded in the manifest)")
    parser.add_argument("--spec", required=True, help='JSON: {"source": {"kind": ..., ...}}')
    parser.add_argument("--raw-dir", required=True, type=Path, help="folder to create with the raw files")
    parser.add_argument("--manifest", required=True, type=Path, help="manifest.json to write")
    parser.add_argument(
        "--threads",
        type=int,
        default=_threads_from_environment(),
        help="processes that may build the files (a synthetic source's photos; same files for any number); "
        "default: $OMP_NUM_THREADS, which Snakemake sets to the job's threads, else 1",
    )


def run(args: argparse.Namespace) -> None:
    spec = json_option(args.spec, "--spec")
    fetch(args.dataset, check_source(spec), args.raw_dir, args.manifest, workers=max(1, args.threads))
