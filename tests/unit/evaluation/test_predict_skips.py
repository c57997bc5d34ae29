"""maskflow predict with several bad rows at once: each skipped with its own reason, counted per
reason in the one line it prints and listed in the skipped file; the good rows predicted.

Run: pytest -q tests/unit/evaluation/test_predict_skips.py
"""

from __future__ import annotations

import pandas as pd
from PIL import Image
from test_predict import photos, predict_table  # noqa: F401 (photos is a fixture)

# the rows of the table, in order: (name, x1, y1, x2, y2), reason or None for a row to predict
ROWS = [
    (("a.jpg", 10, 10, 50, 50), None),  # line 2
    (("a.jpg", 40, 10, 40, 50), "zero_area"),  # line 3: no width
    (("truncated.jpg", 5, 5, 60, 60), "corrupt_photo"),  # line 4: a valid header, then cut off
    (("missing.jpg", 5, 5, 60, 60), "missing_photo"),  # line 5
    (("gesichter_ü.jpg", 5, 5, 100, 110), None),  # line 6
    (("a.jpg", 300, 10, 350, 50), "box_outside"),  # line 7
    (("also_missing.jpg", 5, 5, 60, 60), "missing_photo"),  # line 8
    (("a.jpg", 10, 30, 50, 30), "zero_area"),  # line 9: no height
]


def truncated_jpeg(path, source):
    """A JPEG whose header (size, markers) reads fine but whose scan data stops early."""
    data = source.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with Image.open(path) as image:  # the header alone still opens
        assert image.size == (160, 120)


def test_several_bad_rows_are_counted_per_reason_and_listed(photos, capsys):  # noqa: F811
    tmp_path, folder, checkpoint = photos
    truncated_jpeg(folder / "truncated.jpg", folder / "a.jpg")
    table = pd.DataFrame([cells for cells, _ in ROWS], columns=["name", "x1", "y1", "x2", "y2"])
    table["classname"] = "good"
    assert predict_table(tmp_path, folder, checkpoint, table) == 0

    err = capsys.readouterr().err
    assert "Traceback" not in err
    said = [line for line in err.splitlines() if "rows skipped" in line]
    assert len(said) == 1, err
    assert "6 of 8 rows skipped (" in said[0], said[0]
    for reason, count in {"zero_area": 2, "missing_photo": 2, "corrupt_photo": 1, "box_outside": 1}.items():
        assert f"{reason} {count}" in said[0], said[0]
    assert "first: row 2, line 3" in said[0], said[0]

    skipped = pd.read_csv(tmp_path / "p_skipped.csv", keep_default_na=False)
    expected = [(line - 1, line, reason) for line, (_, reason) in enumerate(ROWS, start=2) if reason]
    assert [tuple(row) for row in skipped[["row", "line", "reason"]].values.tolist()] == expected
    details = dict(zip(skipped["line"], skipped["detail"]))
    assert "truncated" in details[4] and "truncated.jpg" in details[4], details[4]
    # the missing photo is looked for in the folder given with --images, and the line says so
    assert details[5] == f"missing.jpg: no such file in the --images folder {folder}", details[5]
    assert skipped["photo"].tolist() == [ROWS[line - 2][0][0] for _, line, _ in expected]

    preds = pd.read_csv(tmp_path / "p.csv")
    assert preds["row"].tolist() == [1, 5]
