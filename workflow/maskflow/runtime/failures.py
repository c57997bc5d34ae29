"""After a failed run: each failed job's reason, the last line of its log, printed last.

Snakemake answers a failed job with its shell command (hundreds of characters, three times)
and a pointer to the job's log, while the line that says what went wrong ("maskflow fetch:
error: ... Without internet here, download ... and put it at data/mnist.npz") is the last line
of that log. The workflow's `onerror:` handler (workflow/rules/common.smk) calls
`report_failures` with Snakemake's own log file: its "Error in rule" blocks name each failed
job's logs, and each log's last line is printed to stderr, below everything else.

    report_failures([".snakemake/log/2026-12-06T031818.snakemake.log"])
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import TextIO

# "Error in rule fetch:\n    message: None\n    jobid: 0\n    ...\n    log: a.log (check log file(s) ...)"
ERROR_BLOCK = re.compile(r"^Error in rule (\S+):\n(.*?)(?=^\S|\Z)", re.M | re.S)
LOG_LINE = re.compile(r"^\s+log: (.*?)(?: \(check log file\(s\) for error details\))?\s*$", re.M)
WILDCARDS_LINE = re.compile(r"^\s+wildcards: (.*)$", re.M)


def failed_jobs(text: str) -> list[tuple[str, str, list[str]]]:
    """(rule, wildcards, log paths) of every "Error in rule" block of a Snakemake log."""
    jobs = []
    for rule, body in ERROR_BLOCK.findall(text):
        logs = LOG_LINE.search(body)
        wildcards = WILDCARDS_LINE.search(body)
        paths = [path.strip() for path in logs.group(1).split(",")] if logs else []
        jobs.append((rule, wildcards.group(1) if wildcards else "", paths))
    return jobs


def last_line(path: str | Path) -> str | None:
    """The log's last non-empty line, or None when the log is missing or empty."""
    try:
        lines = Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    return next((line.strip() for line in reversed(lines) if line.strip()), None)


def report_failures(snakemake_logs: str | list[str], stream: TextIO | None = None) -> None:
    """Print, for each failed job, the last line of its log (`snakemake_logs`: what Snakemake
    hands an `onerror:` handler, one path or a list of them)."""
    stream = stream or sys.stderr
    paths = [snakemake_logs] if isinstance(snakemake_logs, (str, Path)) else list(snakemake_logs or [])
    text = "".join(Path(p).read_text(encoding="utf-8", errors="replace") for p in paths if Path(p).is_file())
    jobs = failed_jobs(text)
    if not jobs:
        return
    print(
        f"\nmaskflow: {len(jobs)} job{'s' * (len(jobs) != 1)} failed; the last line of each log says why:", file=stream
    )
    for rule, wildcards, logs in jobs:
        where = f"{rule} ({wildcards})" if wildcards else rule
        for log in logs or [None]:
            line = last_line(log) if log else None
            print(f"  {where}: {line or 'its log says nothing'}" + (f"  [{log}]" if log else ""), file=stream)
