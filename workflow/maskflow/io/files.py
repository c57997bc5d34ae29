"""Reading the JSON files one stage hands the next, with a one-line error when one is missing."""

from __future__ import annotations

import json
from pathlib import Path

from maskflow.errors import DataError


def read_json(path: str | Path, what: str) -> dict:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: {what} not found")
    return json.loads(path.read_text())
