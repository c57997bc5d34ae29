"""The quality report of `maskflow validate`: every dropped or repaired row, with its reason.

Reasons live in one registry (name -> dropped or repaired, and what it means), so a reader that
needs a format-specific reason adds one line here and the counts and the report follow.

Rows are named as a person finds them: `file` is the annotation file relative to raw/, `row`
its line number (header = line 1, so the first data row is line 2) or, for VOC XML, the
object's 1-based index in its file; `row` is null when a whole file could not be read.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import asdict, dataclass

DROPPED = "dropped"
REPAIRED = "repaired"

REASONS: dict[str, tuple[str, str]] = {
    "missing_photo": (DROPPED, "the photo file does not exist (no such file, or the name is a folder)"),
    "corrupt_photo": (DROPPED, "the photo cannot be decoded (corrupt, truncated, empty, not an image, too large)"),
    "unreadable_annotation": (DROPPED, "an annotation file could not be parsed"),
    "unknown_label": (DROPPED, "the label is empty or matches no configured class"),
    "nan_coordinate": (DROPPED, "a box coordinate is empty or not a number"),
    "inverted_box": (DROPPED, "xmin > xmax or ymin > ymax (never swapped: guessing would hide data errors)"),
    "zero_area": (DROPPED, "the box has zero width or height"),
    "box_outside": (DROPPED, "the box lies entirely outside the photo"),
    "duplicate_row": (DROPPED, "same photo, box and label as an earlier row (the first is kept)"),
    "wrong_pixel_count": (DROPPED, "the pixel list does not have height x width values"),
    "non_numeric_pixels": (DROPPED, "the pixel list holds something that is not a number"),
    "pixel_out_of_range": (DROPPED, "a pixel value lies outside 0..255"),
    "label_normalized": (REPAIRED, "the label matched a class after stripping spaces and ignoring case"),
    "float_coordinate": (REPAIRED, "a fractional coordinate was rounded to the nearest pixel"),
    "box_clipped": (REPAIRED, "the box was partly outside the photo and was clipped to it"),
    "size_mismatch": (REPAIRED, "the table's width/height differ from the photo; the photo's size is used"),
}

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Issue:
    file: str
    row: int | None
    reason: str
    detail: str


class QualityLog:
    """Collects issues while the checks run; turns them into quality.json and a log summary."""

    def __init__(self) -> None:
        self.issues: list[Issue] = []

    def add(self, file: str, row: int | None, reason: str, detail: str) -> None:
        if reason not in REASONS:
            raise KeyError(f"unregistered quality reason {reason!r}; add it to maskflow.annotations.quality.REASONS")
        self.issues.append(Issue(file, None if row is None else int(row), reason, detail))

    def add_rows(self, reason: str, rows, details: Iterable[str]) -> None:
        """One issue per row of a DataFrame holding `source_file` and `source_row`."""
        for file, row, detail in zip(rows["source_file"], rows["source_row"], details):
            self.add(file, row, reason, detail)

    def report(self, dataset: str, rows_read: int, kept: set[tuple[str, int]], file_order: list[str], **notes) -> dict:
        """quality.json. A repair is listed only for rows that were kept: a row clipped and then
        found to be a duplicate is reported once, as the duplicate."""
        order = {name: i for i, name in enumerate(file_order)}

        def key(issue: Issue):
            return (order.get(issue.file, len(order)), issue.file, issue.row or 0, issue.reason)

        dropped = sorted((i for i in self.issues if REASONS[i.reason][0] == DROPPED), key=key)
        repaired = sorted(
            (i for i in self.issues if REASONS[i.reason][0] == REPAIRED and (i.file, i.row) in kept), key=key
        )
        counts = {reason: 0 for reason in REASONS}
        for issue in dropped + repaired:
            counts[issue.reason] += 1
        return {
            "dataset": dataset,
            "rows_read": int(rows_read),
            "rows_kept": len(kept),
            "counts": counts,
            "dropped": [asdict(i) for i in dropped],
            "repaired": [asdict(i) for i in repaired],
            **notes,
        }


def summary(report: dict) -> str:
    """A few lines for the log: rows read/kept, then the count of every reason that occurred."""
    lines = [f"{report['rows_read']} rows read, {report['rows_kept']} kept"]
    for kind in (DROPPED, REPAIRED):
        counted = [(r, n) for r, n in report["counts"].items() if n and REASONS[r][0] == kind]
        if counted:
            lines.append(f"{kind}: " + ", ".join(f"{reason} {n}" for reason, n in counted))
    for issue in report["dropped"][:5]:
        where = issue["file"] if issue["row"] is None else f"{issue['file']} row {issue['row']}"
        lines.append(f"  e.g. {where}: {issue['reason']}: {issue['detail']}")
    return "\n".join(lines)
