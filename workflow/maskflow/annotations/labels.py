"""Matching written labels to the configured classes: `rename`, then exact or normalised match.

    matcher = LabelMatcher(["good", "bad", "none"], rename={"with_mask": "good"}, case="normalize")
    matcher.match(" Good")   # -> ("good", "label_normalized", "' Good' read as 'good'")

`rename` is applied first (exactly, or after normalising when label_case is `normalize`). With
`normalize`, surrounding spaces and letter case are ignored and the row is reported as repaired
(`label_normalized`); with `strict` such a label is `unknown_label`, and the detail says what
`normalize` would have read, so the fix is one config key away.
"""

from __future__ import annotations

import pandas as pd

CASES = ("normalize", "strict")


def _fold(text: str) -> str:
    return text.strip().casefold()


class LabelMatcher:
    def __init__(self, classes: list[str], rename: dict[str, str] | None = None, case: str = "normalize") -> None:
        if case not in CASES:
            raise ValueError(f"label_case must be one of {CASES}, not {case!r}")
        self.classes = list(classes)
        self.rename = dict(rename or {})
        self.case = case
        self._folded_classes = {_fold(c): c for c in self.classes}
        self._folded_rename = {_fold(k): v for k, v in self.rename.items()}

    def _normalised(self, text: str) -> str | None:
        renamed = self._folded_rename.get(_fold(text), text)
        return self._folded_classes.get(_fold(renamed))

    def match(self, raw) -> tuple[str | None, str | None, str]:
        """(class or None, quality reason or None, detail)."""
        if pd.isna(raw) or not str(raw).strip():
            return None, "unknown_label", "empty label"
        text = str(raw)
        exact = self.rename.get(text, text)
        if exact in self.classes:
            return exact, None, ""
        normalised = self._normalised(text)
        if normalised is not None and self.case == "normalize":
            return normalised, "label_normalized", f"{text!r} read as {normalised!r}"
        detail = f"{text!r} is not a class (classes: {', '.join(self.classes)})"
        if normalised is not None:
            detail += f"; label_case: normalize would read it as {normalised!r}"
        elif self.rename:
            detail += " and not a key of annotations.rename"
        return None, "unknown_label", detail
