"""maskflow.sources.download against a real HTTP server on 127.0.0.1 that misbehaves on cue."""

from __future__ import annotations

import hashlib
import os
import socket
import stat
import threading

import pytest

from maskflow.errors import DownloadError
from maskflow.sources.download import download, url_basename

from helpers.httpserver import HTTPTestServer

BODY = bytes(range(256)) * 400  # 100 kB: several read chunks
SHA = hashlib.sha256(BODY).hexdigest()
FAST = {"backoff": 0.001, "timeout": 5.0}


@pytest.fixture
def server():
    with HTTPTestServer() as running:
        yield running


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir())


def test_download_with_correct_checksum(server, tmp_path):
    url = server.add("/data.bin", BODY)
    target = download(url, tmp_path / "data.bin", sha256=SHA.upper(), **FAST)
    assert target.read_bytes() == BODY
    assert leftovers(tmp_path) == ["data.bin"]


def test_downloaded_file_follows_the_umask_not_private(server, tmp_path):
    url = server.add("/data.bin", BODY)
    old = os.umask(0o022)
    try:
        target = download(url, tmp_path / "data.bin", **FAST)
    finally:
        os.umask(old)
    assert stat.S_IMODE(target.stat().st_mode) == 0o644


def test_wrong_checksum_names_url_and_both_hashes_and_keeps_nothing(server, tmp_path):
    url = server.add("/data.bin", BODY)
    wrong = "0" * 64
    with pytest.raises(DownloadError) as error:
        download(url, tmp_path / "data.bin", sha256=wrong, **FAST)
    message = str(error.value)
    assert url in message and wrong in message and SHA in message
    assert leftovers(tmp_path) == []
    assert len(server.requests) == 1  # a checksum mismatch is not retried


@pytest.mark.parametrize("status", [500, 503, 408, 429])
def test_transient_status_then_success_is_retried(server, tmp_path, status):
    url = server.add("/data.bin", BODY, script=[f"status:{status}", "ok"])
    download(url, tmp_path / "data.bin", sha256=SHA, **FAST)
    assert (tmp_path / "data.bin").read_bytes() == BODY
    assert len(server.requests) == 2


def test_retries_run_out_with_a_clear_error(server, tmp_path):
    url = server.add("/data.bin", BODY, script=["status:502"])
    with pytest.raises(DownloadError, match=r"failed after 3 attempt\(s\).*HTTP 502"):
        download(url, tmp_path / "data.bin", retries=2, **FAST)
    assert len(server.requests) == 3
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("status", [404, 403, 400])
def test_client_error_fails_at_once_with_the_status(server, tmp_path, status):
    url = server.add("/data.bin", BODY, script=[f"status:{status}"])
    with pytest.raises(DownloadError, match=f"HTTP {status}") as error:
        download(url, tmp_path / "data.bin", retries=5, **FAST)
    assert url in str(error.value)
    assert len(server.requests) == 1
    assert leftovers(tmp_path) == []


def test_dropped_connection_resumes_with_range(server, tmp_path):
    url = server.add("/data.bin", BODY, script=["drop", "ok"])
    download(url, tmp_path / "data.bin", sha256=SHA, **FAST)
    first, second = server.requests
    assert "Range" not in first.headers
    assert second.headers["Range"] == f"bytes={len(BODY) // 2}-"
    assert second.headers["If-Range"] == '"v1"'
    assert hashlib.sha256((tmp_path / "data.bin").read_bytes()).hexdigest() == SHA


def test_several_drops_resume_each_from_where_the_last_stopped(server, tmp_path):
    url = server.add("/data.bin", BODY, script=["drop", "drop", "ok"])
    download(url, tmp_path / "data.bin", sha256=SHA, **FAST)
    half = len(BODY) // 2
    assert [r.headers.get("Range") for r in server.requests] == [
        None,
        f"bytes={half}-",
        f"bytes={half + (len(BODY) - half) // 2}-",
    ]


def test_dropped_connection_without_range_support_restarts(server, tmp_path):
    url = server.add("/data.bin", BODY, script=["drop", "ok"], ranges=False)
    download(url, tmp_path / "data.bin", sha256=SHA, **FAST)
    assert [r.headers.get("Range") for r in server.requests] == [None, None]
    assert (tmp_path / "data.bin").read_bytes() == BODY


def test_body_changed_between_attempts_is_fetched_whole(server, tmp_path):
    url = server.add("/data.bin", BODY, script=["drop", "ok"])
    route = server.routes["/data.bin"]
    new_body = BODY[::-1]

    # After the drop the resource changes: If-Range no longer matches, so the server sends 200.
    def change_after_first_request():
        route.body, route.etag = new_body, '"v2"'

    route.next_behaviour = _after_first(route.next_behaviour, change_after_first_request)
    download(url, tmp_path / "data.bin", sha256=hashlib.sha256(new_body).hexdigest(), **FAST)
    assert (tmp_path / "data.bin").read_bytes() == new_body


def _after_first(behaviour, hook):
    calls = []

    def wrapped():
        calls.append(1)
        if len(calls) == 2:
            hook()
        return behaviour()

    return wrapped


def test_stalled_server_times_out_and_leaves_nothing(server, tmp_path):
    url = server.add("/data.bin", BODY, script=["stall"])
    outcome = {}

    def attempt():
        try:
            download(url, tmp_path / "data.bin", retries=1, timeout=0.5, backoff=0.001)
        except DownloadError as error:
            outcome["error"] = str(error)

    worker = threading.Thread(target=attempt, daemon=True)
    worker.start()
    worker.join(20)  # a bound, not a timing assertion: a hang fails here instead of freezing the suite
    assert not worker.is_alive(), "download hung on a stalled server"
    assert "timed out" in outcome["error"] and "2 attempt" in outcome["error"]
    assert len(server.requests) == 2
    assert leftovers(tmp_path) == []


def test_connection_refused_is_retried_then_reported(tmp_path):
    with socket.socket() as sock:  # a port that was free a moment ago and has no listener now
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(DownloadError, match="cannot connect"):
        download(f"http://127.0.0.1:{port}/x.bin", tmp_path / "x.bin", retries=1, **FAST)
    assert leftovers(tmp_path) == []


def test_file_url(tmp_path):
    source = tmp_path / "mirror" / "data.bin"
    source.parent.mkdir()
    source.write_bytes(BODY)
    target = download(source.as_uri(), tmp_path / "out" / "data.bin", sha256=SHA, **FAST)
    assert target.read_bytes() == BODY


def test_missing_file_url_fails_at_once(tmp_path):
    with pytest.raises(DownloadError, match="no such file"):
        download((tmp_path / "absent.bin").as_uri(), tmp_path / "x.bin", retries=3, backoff=10)


@pytest.mark.parametrize(
    "url, name",
    [
        ("https://example.org/a/b/masks.zip?dl=1", "masks.zip"),
        ("https://example.org/a/caf%C3%A9%20photos.tar.gz", "café photos.tar.gz"),
        ("https://example.org/", "download"),
    ],
)
def test_url_basename(url, name):
    assert url_basename(url) == name
