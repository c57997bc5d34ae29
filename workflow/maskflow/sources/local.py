"""Putting local files into a raw folder: folders copied (hard-linked where possible), archives
unpacked safely (an archive of one folder reads like one of its contents), single files placed
under their name. A `path` that does not exist is also looked for as an archive beside it
(data/medical-masks -> data/medical-masks.zip).

Used by the `path` source for the user's own files and by the `url` source for what it
downloaded. Unpacking refuses any member that would land outside the raw folder (an absolute
path or a `..` component: "zip slip"), and for tar archives also links pointing outside it and
device files (Python's `data` extraction filter), naming the archive and the member. An
archive whose members add up to more than MAX_UNPACKED_BYTES, or to more than MAX_RATIO times its
own size (a zip or tar bomb), or to more than the free space, is refused before anything is
written, naming the sizes and the limit.

    python -m maskflow.sources.local SOURCE DEST    # place a folder, archive or file into DEST
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from maskflow.errors import DataError

# Where `maskflow fetch` leaves a dataset's manifest: once it exists, the raw files are in place
# and a missing `path` source is no longer a mistake (maskflow.config.check_sources). The
# workflow's path table (maskflow.layout) takes it from here.
MANIFEST = "resources/{dataset}/manifest.json"


def link_or_copy(src: str | os.PathLike, dst: str | os.PathLike) -> None:
    """Hard-link `src` to `dst` (instant, no extra space); copy when linking is not possible
    (another filesystem, or a filesystem without hard links)."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def copy_folder(src: Path, dest: Path) -> None:
    """Copy the tree under `src` into `dest`, following symlinks to their contents."""
    try:
        shutil.copytree(src, dest, copy_function=link_or_copy, dirs_exist_ok=True)
    except shutil.Error as error:
        problems = "; ".join(f"{a}: {why}" for a, _b, why in error.args[0][:5])
        raise DataError(f"{src}: cannot copy the folder: {problems}") from None


def _check_member(archive: Path, name: str) -> None:
    posix = name.replace("\\", "/")
    if posix.startswith("/") or re.match(r"^[A-Za-z]:", posix) or ".." in PurePosixPath(posix).parts:
        raise DataError(
            f"{archive}: member {name!r} would be written outside the raw folder "
            "(absolute path or '..' component); refusing to unpack this archive"
        )


# An archive bomb (a small zip or tar whose members unpack to gigabytes) is refused before any
# member is written. Real data sets stay far inside these: image archives unpack to about their
# own size, CSV and pixel text to under 20 times it. A larger data set can be unpacked by hand
# and its folder named as the `path` source.
MAX_UNPACKED_BYTES = 64 * 2**30
MAX_RATIO = 100
# Below this the ratio is not checked: a small archive of repetitive text is no danger.
RATIO_FLOOR_BYTES = 256 * 2**20


def _size(n: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def check_unpacked_size(archive: Path, unpacked: int, dest: Path) -> None:
    """Refuse an archive whose members add up to more than the limits or the free space at
    `dest`. The sizes are the members' headers, and they bind: zipfile stops each member at its
    header's file_size, tarfile copies exactly the header's size."""
    packed = max(archive.stat().st_size, 1)
    ratio = unpacked / packed
    what = f"{archive}: its members unpack to {_size(unpacked)} ({ratio:.0f} times its {_size(packed)})"
    advice = "; if this data set is really that large, unpack it yourself and give the folder as the `path` source"
    if unpacked > MAX_UNPACKED_BYTES:
        raise DataError(
            f"{what}, more than the {_size(MAX_UNPACKED_BYTES)} limit on an archive's unpacked total "
            f"(maskflow.sources.local.MAX_UNPACKED_BYTES){advice}"
        )
    if unpacked > RATIO_FLOOR_BYTES and ratio > MAX_RATIO:
        raise DataError(
            f"{what}, more than the limit of {MAX_RATIO} times (maskflow.sources.local.MAX_RATIO): "
            f"a zip or tar bomb?{advice}"
        )
    free = shutil.disk_usage(dest).free
    if unpacked > free:
        raise DataError(f"{what}, more than the {_size(free)} free at {dest}; free some space and run again")


def _unpack_zip(archive: Path, dest: Path) -> None:
    try:
        with zipfile.ZipFile(archive) as zf:
            members = zf.infolist()
            for member in members:
                _check_member(archive, member.filename)
            check_unpacked_size(archive, sum(member.file_size for member in members), dest)
            zf.extractall(dest)
    except zipfile.BadZipFile as error:
        raise DataError(f"{archive}: not a valid zip archive ({error})") from None


def _unpack_tar(archive: Path, dest: Path) -> None:
    try:
        with tarfile.open(archive) as tf:
            members = tf.getmembers()
            for member in members:
                _check_member(archive, member.name)
            check_unpacked_size(archive, sum(member.size for member in members if member.isreg()), dest)
            tf.extractall(dest, filter="data")
    except tarfile.FilterError as error:
        raise DataError(f"{archive}: member {error.tarinfo.name!r} refused: {error}") from None
    except (tarfile.ReadError, tarfile.CompressionError, EOFError) as error:
        raise DataError(f"{archive}: not a valid tar archive ({error})") from None


# Archive name endings -> unpacker (tarfile detects the compression itself).
ARCHIVES: dict[str, Callable[[Path, Path], None]] = {
    ".zip": _unpack_zip,
    ".tar": _unpack_tar,
    ".tar.gz": _unpack_tar,
    ".tgz": _unpack_tar,
    ".tar.bz2": _unpack_tar,
    ".tbz2": _unpack_tar,
    ".tar.xz": _unpack_tar,
    ".txz": _unpack_tar,
}


def archive_unpacker(name: str) -> Callable[[Path, Path], None] | None:
    """The unpacker for a file called `name`, or None when the name is not an archive's."""
    lower = name.lower()
    return next((unpack for ending, unpack in ARCHIVES.items() if lower.endswith(ending)), None)


def place(src: Path, dest: Path, name: str | None = None) -> None:
    """Put `src` into the folder `dest`: a folder's contents copied, an archive unpacked, any
    other file linked or copied as `dest/name` (default: its own name)."""
    dest.mkdir(parents=True, exist_ok=True)
    if src.is_dir():
        copy_folder(src, dest)
        return
    name = name or src.name
    unpack = archive_unpacker(name)
    if unpack is not None:
        fresh = not any(dest.iterdir())
        unpack(src, dest)
        if fresh:
            unwrap_single_folder(dest)
    else:
        link_or_copy(src, dest / name)


def unwrap_single_folder(dest: Path) -> None:
    """An archive of a folder (`medical-masks.zip` holding `medical-masks/train.csv`, ...) reads
    like an archive of its contents: a lone top folder's entries move up into `dest`, so the
    config's file names (train.csv, images/) hold either way. macOS's __MACOSX folder is dropped."""
    shutil.rmtree(dest / "__MACOSX", ignore_errors=True)
    entries = list(dest.iterdir())
    if len(entries) != 1 or not entries[0].is_dir() or entries[0].is_symlink():
        return
    lone = entries[0].rename(dest / f".unwrap-{entries[0].name}")  # its child may share its name
    for child in lone.iterdir():
        child.rename(dest / child.name)
    lone.rmdir()


def existing_path(path: str) -> Path | None:
    """`path` when it exists, else an archive of that name beside it (data/medical-masks ->
    data/medical-masks.zip, .tar.gz, ...: the folder as handed out, still zipped); None when
    neither exists."""
    src = Path(path).expanduser()
    if src.exists():
        return src
    return next((p for p in (src.with_name(src.name + e) for e in ARCHIVES) if p.is_file()), None)


def missing_message(path: str, hint: str | None = None) -> str:
    """One line: the path that is not there, where it was looked for, and the source's `hint`
    (what to download, from where) when it has one."""
    message = (
        f"source path {path!r} not found (looked for {Path(path).expanduser().absolute()}; "
        f"a relative path is relative to the working directory {Path.cwd()})"
    )
    return f"{message}. {' '.join(hint.split())}" if hint else message  # one line, however the YAML wraps it


def missing_source(dataset: str, source: dict) -> str | None:
    """Why `source` cannot be fetched, known before any job runs: a `path` source whose path
    does not exist (one line, with the source's `hint`); None when it can be tried. Light
    (standard library only): the workflow calls it while it is parsed."""
    if source.get("kind") != "path" or existing_path(source["path"]) is not None:
        return None
    return f"datasets.{dataset}.source: {missing_message(source['path'], source.get('hint'))}"


def place_path(path: str, dest: Path, hint: str | None = None) -> None:
    """The `path` source: `path` (relative to the working directory), or its archive beside it
    (existing_path), placed into `dest`."""
    src = existing_path(path)
    if src is None:
        raise DataError(missing_message(path, hint))
    place(src, dest)


def main(argv: list[str] | None = None) -> None:
    src, dest = sys.argv[1:] if argv is None else argv
    place_path(src, Path(dest))


if __name__ == "__main__":
    main()
