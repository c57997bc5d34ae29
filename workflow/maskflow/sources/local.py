"""Putting local files into a raw folder: folders copied (hard-linked where possible), archives
unpacked safely (an archive of one folder reads like one of its contents), single files placed
under their name. A `path` that does not exist is also looked for as an archive beside it
(data/medical-masks -> data/medical-masks.zip).

Used by the `path` source for the user's own files and by the `url` source for what it
downloaded. Unpacking refuses any member that would land outside the raw folder (an absolute
path or a `..` component: "zip slip"), and for tar archives also links pointing outside it and
device files (Python's `data` extraction filter), naming the archive and the member.

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


def _unpack_zip(archive: Path, dest: Path) -> None:
    try:
        with zipfile.ZipFile(archive) as zf:
            for name in zf.namelist():
                _check_member(archive, name)
            zf.extractall(dest)
    except zipfile.BadZipFile as error:
        raise DataError(f"{archive}: not a valid zip archive ({error})") from None


def _unpack_tar(archive: Path, dest: Path) -> None:
    try:
        with tarfile.open(archive) as tf:
            for member in tf.getmembers():
                _check_member(archive, member.name)
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
