"""maskflow.runtime.gpu_slots: concurrent train jobs on a machine with N (faked) GPUs each get their own.

Each "job" is a real process that claims a card through real flock files and holds it until
told to exit, as a train job holds its card until it ends.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from maskflow.runtime import gpu_slots

# A train job: claim one of N fake cards, print it, hold it until stdin closes.
JOB = textwrap.dedent(
    """
    import sys
    from maskflow.runtime import gpu_slots
    try:
        device = gpu_slots.claim_gpu(device_count=lambda: int(sys.argv[1]), folder=sys.argv[2], wait=sys.argv[3] == "wait", poll_seconds=0.05)
    except TimeoutError as error:
        print("busy", flush=True)
        sys.exit(3)
    print(device, flush=True)
    sys.stdin.read()
    """
)


def start_job(n_devices: int, folder, wait: bool = False, env: dict | None = None) -> subprocess.Popen:
    environment = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}
    environment.update(env or {})
    return subprocess.Popen(
        [sys.executable, "-c", JOB, str(n_devices), str(folder), "wait" if wait else "nowait"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=environment,
    )


def claimed(job: subprocess.Popen) -> str:
    return job.stdout.readline().strip()


def finish(*jobs: subprocess.Popen) -> None:
    for job in jobs:
        if job.poll() is None:
            job.stdin.close()
        job.wait(timeout=30)


@pytest.fixture(autouse=True)
def no_held_cards():
    yield
    gpu_slots.release_gpu()


def test_concurrent_jobs_get_distinct_devices_and_the_next_one_is_refused(tmp_path):
    jobs = [start_job(3, tmp_path) for _ in range(3)]
    try:
        devices = sorted(claimed(job) for job in jobs)
        assert devices == ["cuda:0", "cuda:1", "cuda:2"]
        extra = start_job(3, tmp_path)
        assert claimed(extra) == "busy"
        assert extra.wait(timeout=30) == 3
    finally:
        finish(*jobs)


def test_a_waiting_job_gets_the_card_a_finished_job_gave_back(tmp_path):
    first, second = start_job(2, tmp_path), start_job(2, tmp_path)
    try:
        first_card, second_card = claimed(first), claimed(second)
        assert {first_card, second_card} == {"cuda:0", "cuda:1"}
        waiting = start_job(2, tmp_path, wait=True)
        finish(first)
        # The waiting job blocks until `first` ends, then takes exactly the card it held.
        assert claimed(waiting) == first_card
        finish(waiting)
    finally:
        finish(first, second)


def test_a_killed_job_does_not_keep_its_card(tmp_path):
    job = start_job(1, tmp_path)
    assert claimed(job) == "cuda:0"
    job.send_signal(signal.SIGKILL)
    job.wait(timeout=30)
    again = start_job(1, tmp_path)
    try:
        assert claimed(again) == "cuda:0"
    finally:
        finish(again)


def test_cuda_visible_devices_set_means_no_lock(tmp_path):
    job = start_job(4, tmp_path, env={"CUDA_VISIBLE_DEVICES": "2"})
    try:
        assert claimed(job) == "cuda"
        assert list(tmp_path.iterdir()) == []
    finally:
        finish(job)


def test_one_process_keeps_its_card_and_release_frees_it(tmp_path, monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    first = gpu_slots.claim_gpu(device_count=lambda: 2, folder=tmp_path, wait=False)
    assert gpu_slots.claim_gpu(device_count=lambda: 2, folder=tmp_path, wait=False) == first == "cuda:0"
    # Another process sees card 0 taken while this one holds it, and free once released.
    other = start_job(1, tmp_path)
    assert claimed(other) == "busy"
    finish(other)
    gpu_slots.release_gpu()
    other = start_job(1, tmp_path)
    try:
        assert claimed(other) == "cuda:0"
    finally:
        finish(other)


def test_no_countable_card_leaves_the_choice_to_torch(tmp_path, monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert gpu_slots.claim_gpu(device_count=lambda: 0, folder=tmp_path) == "cuda"
    assert list(tmp_path.iterdir()) == []


def test_lock_dir_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(gpu_slots.LOCK_DIR_ENV, str(tmp_path / "locks"))
    assert gpu_slots.lock_dir() == tmp_path / "locks"


@pytest.mark.parametrize(("visible", "count"), [("0,1,2", 3), ("3", 1), ("", 0), ("0, 1", 2)])
def test_visible_gpu_count_follows_cuda_visible_devices(monkeypatch, visible, count):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", visible)
    assert gpu_slots.visible_gpu_count() == count
