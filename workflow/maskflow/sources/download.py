"""Downloading one URL to one file: checksummed, atomic, retried, resumed.

`download(url, target, sha256=...)` streams the body into a temporary file beside `target`,
checks the sha256 when one is given, and only then renames it to `target`, so a failed or
interrupted download never leaves a file that looks finished. Standard library only (urllib):

- transient failures (connection refused or reset, time-outs, HTTP 5xx, 408, 429) are retried
  `retries` times with exponential backoff (`backoff`, 2 x backoff, 4 x backoff, ... seconds);
- `timeout` bounds every connect and every read, so a stalled server fails instead of hanging;
- when the connection drops mid-body and the server accepts ranges, the next attempt asks
  for the missing bytes only (HTTP Range, guarded by If-Range); otherwise it starts again;
- any other 4xx fails at once with the status: asking again would not change the answer;
- file:// URLs work too (a local mirror), without ranges.

    python -m maskflow.sources.download URL TARGET [SHA256]
"""

from __future__ import annotations

import http.client
import logging
import os
import re
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from maskflow.errors import DownloadError
from maskflow.io.hashing import sha256_file

log = logging.getLogger(__name__)

DEFAULT_RETRIES = 3
DEFAULT_TIMEOUT = 30.0
DEFAULT_BACKOFF = 1.0
CHUNK = 1 << 16
USER_AGENT = "maskflow-fetch/1 (+urllib)"

# 4xx statuses that mean "try again later" rather than "this request is wrong".
RETRYABLE_4XX = {408, 429}

_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")


class _Transient(Exception):
    """One attempt failed in a way another attempt may not (kept inside this module)."""


@dataclass
class _Progress:
    """What the previous attempts left in the temporary file, and how to ask for the rest."""

    received: int = 0
    validator: str | None = None  # ETag or Last-Modified of the partial body, for If-Range
    ranges: bool = False  # the server said it accepts byte ranges


def url_basename(url: str) -> str:
    """The file name a URL points at (`https://x/a/b.zip?dl=1` -> `b.zip`), or `download`."""
    name = urllib.parse.unquote(urllib.parse.urlparse(url).path).rstrip("/").rsplit("/", 1)[-1]
    return name or "download"


def download(
    url: str,
    target: str | os.PathLike,
    *,
    sha256: str | None = None,
    retries: int = DEFAULT_RETRIES,
    timeout: float = DEFAULT_TIMEOUT,
    backoff: float = DEFAULT_BACKOFF,
) -> Path:
    """Fetch `url` into `target` and return it; raise DownloadError (nothing left behind) on failure."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, part_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name[:100]}.part-")
    os.close(fd)
    part = Path(part_name)
    try:
        _fetch_with_retries(url, part, retries=retries, timeout=timeout, backoff=backoff)
        actual = sha256_file(part)
        if sha256 is None:
            log.info("%s: sha256 %s (add `sha256: %s` to the source to pin it)", url, actual, actual)
        elif actual.lower() != sha256.lower():
            raise DownloadError(
                f"{url}: checksum mismatch: expected sha256 {sha256.lower()}, got {actual} "
                f"({part.stat().st_size} bytes); the file was not kept"
            )
        # mkstemp makes the file private (0600); a dataset is shared like any file the user makes.
        os.chmod(part, _umask_mode())
        os.replace(part, target)
    finally:
        part.unlink(missing_ok=True)
    return target


def _umask_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def _fetch_with_retries(url: str, part: Path, *, retries: int, timeout: float, backoff: float) -> None:
    progress = _Progress()
    attempts = retries + 1
    for attempt in range(1, attempts + 1):
        try:
            _attempt(url, part, progress, timeout)
            return
        except _Transient as error:
            if attempt == attempts:
                raise DownloadError(f"{url}: failed after {attempts} attempt(s): {error}") from None
            delay = backoff * 2 ** (attempt - 1)
            log.warning("%s: attempt %d/%d failed (%s); retrying in %.3g s", url, attempt, attempts, error, delay)
            time.sleep(delay)


def _attempt(url: str, part: Path, progress: _Progress, timeout: float) -> None:
    """One request: append the missing bytes to `part`, or start it again."""
    headers = {"User-Agent": USER_AGENT}
    resuming = progress.received > 0 and progress.ranges
    if resuming:
        headers["Range"] = f"bytes={progress.received}-"
        if progress.validator:
            # A body that changed since the first attempt comes back whole (200), not spliced.
            headers["If-Range"] = progress.validator
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            offset = _resume_offset(response, progress.received if resuming else 0)
            _stream(response, part, offset, progress)
    except urllib.error.HTTPError as error:
        _raise_for_status(url, error, progress)
    except urllib.error.URLError as error:
        if isinstance(error.reason, FileNotFoundError):  # file:// to a missing file: final
            raise DownloadError(f"{url}: no such file") from None
        raise _Transient(f"cannot connect: {error.reason}") from None
    except TimeoutError as error:
        raise _Transient(f"timed out after {timeout:g} s ({error or 'no data'})") from None
    except (ConnectionError, http.client.HTTPException, OSError) as error:
        raise _Transient(f"connection failed: {type(error).__name__}: {error}") from None


def _resume_offset(response, asked: int) -> int:
    """Where the body of `response` starts: `asked` for a matching 206, else 0 (restart)."""
    if asked and response.status == 206:
        match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
        if match and int(match.group(1)) == asked:
            return asked
        raise _Transient(f"server answered a range other than bytes={asked}-")
    if asked:
        log.info("%s: server sent the whole body again; restarting from byte 0", response.url)
    return 0


def _stream(response, part: Path, offset: int, progress: _Progress) -> None:
    length = response.headers.get("Content-Length")
    expected = offset + int(length) if length is not None and length.isdigit() else None
    if offset == 0:
        progress.ranges = response.headers.get("Accept-Ranges", "").lower() == "bytes"
        progress.validator = response.headers.get("ETag") or response.headers.get("Last-Modified")
    with open(part, "r+b" if offset else "wb") as handle:
        handle.seek(offset)
        handle.truncate()
        progress.received = offset
        # http.client returns b"" (no exception) when the peer closes early on a sized body;
        # the byte count against Content-Length below is what notices a dropped connection.
        for block in iter(lambda: response.read(CHUNK), b""):
            handle.write(block)
            progress.received += len(block)
        handle.flush()
        os.fsync(handle.fileno())
    if expected is not None and progress.received < expected:
        raise _Transient(f"connection dropped after {progress.received} of {expected} bytes")


def _raise_for_status(url: str, error: urllib.error.HTTPError, progress: _Progress) -> None:
    status = f"HTTP {error.code} {error.reason}"
    error.close()
    if error.code == 416 and progress.received:
        # The partial file no longer fits the resource: throw it away and ask for all of it.
        asked, progress.received = progress.received, 0
        raise _Transient(f"{status} for bytes={asked}-")
    if 400 <= error.code < 500 and error.code not in RETRYABLE_4XX:
        raise DownloadError(f"{url}: {status} (not retried: the server refused this request)") from None
    raise _Transient(status)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    url, target, *checksum = argv
    print(download(url, target, sha256=checksum[0] if checksum else None))


if __name__ == "__main__":
    main()
