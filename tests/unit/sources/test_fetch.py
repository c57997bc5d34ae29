"""`maskflow fetch`: every source kind into a real raw folder, the manifest, and the CLI's errors."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest

from maskflow.cli import main
from maskflow.errors import ConfigError, DataError, DownloadError
from maskflow.sources.fetch import fetch

from helpers.httpserver import HTTPTestServer

FILES = {
    "train.csv": b"filename,label\nimg 1.jpg,good\n",
    "images/img 1.jpg": b"\xff\xd8 not really a jpeg",
    "images/caf\u00e9/\u00e9t\u00e9.png": b"\x89PNG 2",
}


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def make_zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def make_tar_gz(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def assert_nothing_left(tmp_path: Path) -> None:
    """A failed fetch leaves no raw folder, no manifest and no scratch folder."""
    resources = tmp_path / "resources" / "d"
    assert not resources.exists() or sorted(p.name for p in resources.iterdir()) == []


@pytest.fixture
def server():
    with HTTPTestServer() as running:
        yield running


@pytest.fixture
def out(tmp_path):
    return tmp_path / "resources" / "d" / "raw", tmp_path / "resources" / "d" / "manifest.json"


def test_url_file_lands_under_its_basename_with_manifest(server, out):
    raw, manifest = out
    data = b"emotion,pixels,Usage\n0,1 2 3,Training\n"
    url = server.add("/files/fer2013.csv", data)
    content = fetch("d", {"kind": "url", "url": url, "sha256": sha(data)}, raw, manifest)
    assert tree(raw) == {"fer2013.csv": data}
    assert content["files"] == [{"path": "fer2013.csv", "bytes": len(data), "sha256": sha(data)}]
    assert json.loads(manifest.read_text()) == content
    assert sorted(p.name for p in raw.parent.iterdir()) == ["manifest.json", "raw"]  # no scratch left


def test_url_file_takes_the_given_filename(server, out):
    raw, manifest = out
    url = server.add("/download", b"abc")
    fetch("d", {"kind": "url", "url": url, "filename": "table.csv"}, raw, manifest)
    assert tree(raw) == {"table.csv": b"abc"}


@pytest.mark.parametrize(
    "name, pack", [("masks.zip", make_zip), ("masks.tar.gz", make_tar_gz), ("masks.tgz", make_tar_gz)]
)
def test_url_archive_is_unpacked(server, out, name, pack):
    raw, manifest = out
    archive = pack(FILES)
    url = server.add(f"/{name}", archive)
    content = fetch("d", {"kind": "url", "url": url, "sha256": sha(archive)}, raw, manifest)
    assert tree(raw) == FILES  # the archive itself is not kept
    assert [entry["path"] for entry in content["files"]] == sorted(FILES)


def test_url_wrong_checksum_leaves_nothing_behind(server, out, tmp_path):
    raw, manifest = out
    url = server.add("/masks.zip", make_zip(FILES))
    with pytest.raises(DownloadError, match="checksum mismatch"):
        fetch("d", {"kind": "url", "url": url, "sha256": "a" * 64}, raw, manifest)
    assert_nothing_left(tmp_path)


def test_url_404_is_reported_at_once(server, out, tmp_path):
    raw, manifest = out
    url = server.add("/gone.zip", b"", script=["status:404"])
    with pytest.raises(DownloadError, match="HTTP 404"):
        fetch("d", {"kind": "url", "url": url, "retries": 3}, raw, manifest)
    assert len(server.requests) == 1
    assert_nothing_left(tmp_path)


def test_refetch_replaces_the_old_raw_folder(server, out):
    raw, manifest = out
    raw.mkdir(parents=True)
    (raw / "stale.txt").write_text("from an older source")
    url = server.add("/masks.zip", make_zip(FILES))
    fetch("d", {"kind": "url", "url": url}, raw, manifest)
    assert tree(raw) == FILES


@pytest.mark.parametrize(
    "evil",
    ["../evil.txt", "images/../../evil.txt", "/tmp/maskflow-evil.txt"],
)
@pytest.mark.parametrize("pack, suffix", [(make_zip, ".zip"), (make_tar_gz, ".tar.gz")])
def test_archive_member_escaping_the_raw_folder_is_rejected(tmp_path, out, evil, pack, suffix):
    raw, manifest = out
    archive = tmp_path / f"upload{suffix}"
    archive.write_bytes(pack({"ok.txt": b"fine", evil: b"pwned"}))
    with pytest.raises(DataError) as error:
        fetch("d", {"kind": "path", "path": str(archive)}, raw, manifest)
    assert str(archive) in str(error.value) and evil in str(error.value)
    assert not (tmp_path / "resources" / "evil.txt").exists()
    assert not Path("/tmp/maskflow-evil.txt").exists()
    assert_nothing_left(tmp_path)


def test_tar_link_pointing_outside_is_rejected(tmp_path, out):
    raw, manifest = out
    archive = tmp_path / "links.tar"
    with tarfile.open(archive, "w") as tf:
        link = tarfile.TarInfo("images/passwd")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tf.addfile(link)
    with pytest.raises(DataError, match="images/passwd"):
        fetch("d", {"kind": "path", "path": str(archive)}, raw, manifest)
    assert_nothing_left(tmp_path)


def test_corrupt_archive_is_a_clear_error(tmp_path, out):
    raw, manifest = out
    archive = tmp_path / "broken.zip"
    archive.write_bytes(b"PK\x03\x04 this is not a zip")
    with pytest.raises(DataError, match="not a valid zip archive"):
        fetch("d", {"kind": "path", "path": str(archive)}, raw, manifest)


def test_path_folder_is_copied_with_hard_links(tmp_path, out):
    raw, manifest = out
    source = tmp_path / "my data"
    for name, data in FILES.items():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_bytes(data)
    content = fetch("d", {"kind": "path", "path": str(source)}, raw, manifest)
    assert tree(raw) == FILES
    assert (raw / "train.csv").stat().st_ino == (source / "train.csv").stat().st_ino  # same filesystem: linked
    assert {e["path"]: e["sha256"] for e in content["files"]} == {name: sha(data) for name, data in FILES.items()}


def test_path_relative_to_working_directory(tmp_path, out, monkeypatch):
    raw, manifest = out
    (tmp_path / "inputs").mkdir()
    (tmp_path / "inputs" / "photos.tar.gz").write_bytes(make_tar_gz(FILES))
    monkeypatch.chdir(tmp_path)
    fetch("d", {"kind": "path", "path": "inputs/photos.tar.gz"}, raw, manifest)
    assert tree(raw) == FILES


def test_path_single_file_is_placed(tmp_path, out):
    raw, manifest = out
    (tmp_path / "digits.npz").write_bytes(b"npz bytes")
    fetch("d", {"kind": "path", "path": str(tmp_path / "digits.npz")}, raw, manifest)
    assert tree(raw) == {"digits.npz": b"npz bytes"}


def test_missing_path_is_a_clear_error(tmp_path, out, monkeypatch):
    raw, manifest = out
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DataError, match=r"source path 'nowhere/photos' not found .*working directory"):
        fetch("d", {"kind": "path", "path": "nowhere/photos"}, raw, manifest)
    assert_nothing_left(tmp_path)


def test_sklearn_digits(out):
    raw, manifest = out
    content = fetch("d", {"kind": "sklearn", "name": "digits"}, raw, manifest)
    with np.load(raw / "digits.npz") as data:
        image, label = data["image"], data["label"]
    assert image.shape == (1797, 8, 8) and image.dtype == np.uint8
    assert label.shape == (1797,) and label.dtype == np.int64
    assert set(np.unique(label)) == set(range(10))
    assert image.max() == 255 and image.min() == 0
    from sklearn.datasets import load_digits

    np.testing.assert_array_equal(image, np.rint(load_digits().images * 255 / 16).astype(np.uint8))
    assert "load_digits" in (raw / "README.txt").read_text()
    assert [e["path"] for e in content["files"]] == ["README.txt", "digits.npz"]


def test_sklearn_digits_bytes_are_reproducible(tmp_path):
    first = fetch("d", {"kind": "sklearn", "name": "digits"}, tmp_path / "a" / "raw", tmp_path / "a" / "m.json")
    second = fetch("d", {"kind": "sklearn", "name": "digits"}, tmp_path / "b" / "raw", tmp_path / "b" / "m.json")
    assert first["files"] == second["files"]


def test_synthetic_kind_dispatches_to_the_generator(out):
    pytest.importorskip("maskflow.sources.synthetic")
    raw, manifest = out
    spec = {"kind": "synthetic", "photos": 3, "seed": 5, "min_width": 320, "max_width": 400, "faces": [1, 2]}
    content = fetch("d", spec, raw, manifest)
    assert content["source"] == spec
    assert any(e["path"].endswith(".csv") for e in content["files"])
    assert len(content["files"]) == len(tree(raw))


def test_a_synthetic_fetch_on_several_threads_writes_the_same_files(tmp_path, out, monkeypatch):
    """The fetch rule's threads reach the command as OMP_NUM_THREADS (Snakemake sets it for every
    job); the photos are rendered by that many processes, or by --threads."""
    from maskflow.sources import synthetic

    workers = []
    real_write_photos = synthetic._write_photos
    monkeypatch.setattr(synthetic, "_write_photos", lambda tasks, n: workers.append(n) or real_write_photos(tasks, n))
    raw, manifest = out
    spec = json.dumps({"source": {"kind": "synthetic", "photos": 4, "seed": 5, "min_width": 320, "max_width": 400}})
    common = ["fetch", "--dataset", "d", "--spec", spec]
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    main([*common, "--raw-dir", str(raw), "--manifest", str(manifest)])
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    main([*common, "--raw-dir", str(tmp_path / "raw2"), "--manifest", str(tmp_path / "m2.json")])
    main([*common, "--raw-dir", str(tmp_path / "raw3"), "--manifest", str(tmp_path / "m3.json"), "--threads", "3"])
    monkeypatch.setenv("OMP_NUM_THREADS", "4,2")  # OpenMP's nested form: not a process count
    main([*common, "--raw-dir", str(tmp_path / "raw4"), "--manifest", str(tmp_path / "m4.json")])
    assert workers == [1, 2, 3, 1]
    for other in ("m2.json", "m3.json", "m4.json"):
        assert json.loads((tmp_path / other).read_text())["files"] == json.loads(manifest.read_text())["files"]


def run_cli(capsys, raw: Path, manifest: Path, spec: str) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(["fetch", "--dataset", "d", "--spec", spec, "--raw-dir", str(raw), "--manifest", str(manifest)])
    return exit_info.value.code, capsys.readouterr().err


@pytest.mark.parametrize(
    "spec, expected",
    [
        (
            '{"source": {"kind": "ftp", "url": "x"}}',
            "source.kind: 'ftp' is not allowed; allowed values: 'synthetic', 'url', 'path', 'sklearn'",
        ),
        ('{"source": {"kind": "url"}}', "'url' is a required property"),
        ('{"source": {"kind": "url", "url": "ftp://x/y.zip"}}', "source.url"),
        ('{"source": {"kind": "url", "url": "http://x/y", "sha256": "abc"}}', "source.sha256"),
        ('{"source": {"kind": "sklearn", "name": "iris"}}', "source.name: 'iris' is not allowed"),
        ('{"source": {"kind": "path", "path": "x", "colour": 1}}', "'colour' was unexpected"),
        ('{"kind": "path"}', '--spec: expected a JSON object {"source"'),
        ("{source: path}", "--spec is not valid JSON"),
    ],
)
def test_cli_bad_spec_exits_2_with_a_clear_message(capsys, out, spec, expected):
    raw, manifest = out
    code, err = run_cli(capsys, raw, manifest, spec)
    assert code == 2
    assert err.startswith("maskflow fetch: error:") and expected in err
    assert "Traceback" not in err
    assert not raw.exists() and not manifest.exists()


def test_cli_missing_path_exits_2(capsys, out):
    raw, manifest = out
    code, err = run_cli(capsys, raw, manifest, '{"source": {"kind": "path", "path": "/no/such/folder"}}')
    assert code == 2 and "/no/such/folder" in err and "not found" in err


def test_cli_end_to_end(tmp_path, out):
    raw, manifest = out
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.txt").write_bytes(b"A")
    spec = json.dumps({"source": {"kind": "path", "path": str(tmp_path / "src")}})
    main(["fetch", "--dataset", "d", "--spec", spec, "--raw-dir", str(raw), "--manifest", str(manifest)])
    written = json.loads(manifest.read_text())
    assert written == {
        "dataset": "d",
        "source": {"kind": "path", "path": str(tmp_path / "src")},
        "files": [{"path": "a.txt", "bytes": 1, "sha256": sha(b"A")}],
    }


def test_config_error_for_a_filename_with_folders(server, out):
    raw, manifest = out
    url = server.add("/x", b"x")
    with pytest.raises(ConfigError, match="source.filename"):
        fetch("d", {"kind": "url", "url": url, "filename": "../x.csv"}, raw, manifest)
