"""Finding and reading annotation tables: the part every table-based reader shares.

- `annotation_files(raw_dir, spec)` turns the config's `files` (a mapping split -> file, `all`
  for data without a split, or one string) into existing paths with the split they give;
- `read_csv_table(path, name)` reads a CSV as text (utf-8-sig, so an Excel BOM is harmless;
  every cell a string, so long, non-ASCII or numeric-looking file names survive; empty cells
  NaN) and adds `source_row`, the line a person sees in an editor (header = line 1, so the
  first data row is line 2; assumes no line breaks inside quoted cells); a table whose header
  has no comma but `;`, tab or `|` (Excel's export in many locales) is read with that
  delimiter, and the log says so;
- `map_columns(...)` resolves the config's `columns` mapping and says clearly what is missing;
- `split_values(...)` maps a split column's values (`Training`, `PublicTest`...) to train/val/test.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from maskflow.errors import ConfigError, DataError

log = logging.getLogger(__name__)

# The order files are read in, so that "keep the first duplicate" keeps the training copy.
FILE_KEY_ORDER = ("train", "val", "test", "all")

# Split column values understood without a `split_values` mapping (compared case-insensitively).
# Delimiters tried, in order, when a header line holds no comma (see _delimiter).
OTHER_DELIMITERS = {";": "';'", "\t": "tab", "|": "'|'"}

SPLIT_ALIASES = {
    "train": "train", "training": "train",
    "val": "val", "valid": "val", "validation": "val", "dev": "val",
    "test": "test", "testing": "test",
}  # fmt: skip


def annotation_files(raw_dir: Path, spec: dict, kind: str = "file") -> list[tuple[str, str | None]]:
    """[(path relative to raw_dir, given split or None)] in FILE_KEY_ORDER; each must exist."""
    files = spec.get("files")
    if not files:
        raise ConfigError(f"annotations.files: required for format {spec.get('format')!r}")
    pairs = [(files, None)] if isinstance(files, str) else [
        (files[key], None if key == "all" else key) for key in FILE_KEY_ORDER if key in files
    ]  # fmt: skip
    exists = Path.is_dir if kind == "folder" else Path.is_file
    for relative, _ in pairs:
        if not exists(raw_dir / relative):
            present = sorted(p.name for p in raw_dir.iterdir())[:20] if raw_dir.is_dir() else []
            raise DataError(
                f"{raw_dir / relative}: annotation {kind} not found (annotations.files); "
                f"{raw_dir} holds: {', '.join(present) or 'nothing'}"
            )
    return pairs


def _delimiter(path: Path) -> str:
    """',' unless the header line has no comma but one of OTHER_DELIMITERS (the first found)."""
    try:
        with open(path, encoding="utf-8-sig", errors="replace") as handle:
            header = handle.readline()
    except OSError:
        return ","
    if "," in header:
        return ","
    return next((d for d in OTHER_DELIMITERS if d in header), ",")


def read_csv_table(path: Path, name: str) -> pd.DataFrame:
    """The table as strings with a `source_row` column; DataError for an empty or unreadable file."""
    sep = _delimiter(path)
    if sep != ",":
        # Said once in the log: a table read with another delimiter than the user expects (a
        # comma inside a `;`-separated file, e.g. decimal commas, stays in its cell).
        log.info(
            "%s: the header has no comma but %s: read as %s-separated",
            name,
            OTHER_DELIMITERS[sep],
            OTHER_DELIMITERS[sep],
        )
    try:
        table = pd.read_csv(
            path, sep=sep, dtype=str, encoding="utf-8-sig", keep_default_na=True, skip_blank_lines=False
        )
    except pd.errors.EmptyDataError:
        raise DataError(f"{name}: the file is empty (no header, no rows)") from None
    except UnicodeDecodeError as error:
        raise DataError(f"{name}: not UTF-8 text ({error}); save the table as UTF-8") from None
    except pd.errors.ParserError as error:
        raise DataError(f"{name}: not a readable CSV table ({error})") from None
    # "filename, label" (a space after the comma) is a common hand-written header.
    table.columns = [str(column).strip() for column in table.columns]
    # Blank lines were kept so that line numbers stay true; they are not rows.
    table.insert(0, "source_row", range(2, len(table) + 2))
    blank = table.drop(columns="source_row").isna().all(axis=1)
    if blank.any():
        log.info("%s: %d blank lines skipped", name, int(blank.sum()))
        table = table[~blank].reset_index(drop=True)
    if table.empty:
        raise DataError(f"{name}: the file has a header ({', '.join(table.columns[1:])}) but no rows")
    return table


def map_columns(table: pd.DataFrame, name: str, mapping: dict, required: tuple, optional: tuple) -> dict[str, str]:
    """maskflow name -> the table's column, for the required names and the optional ones present.

    An optional column the config names explicitly must exist too (the user asked for it).
    """
    columns = {key: key for key in required + optional} | mapping
    present = [c for c in table.columns if c != "source_row"]
    asked = list(required) + [key for key in optional if key in mapping]
    missing = [key for key in asked if columns[key] not in present]
    if missing:
        described = ", ".join(f"{columns[k]!r}" + (f" (maskflow's {k})" if columns[k] != k else "") for k in missing)
        hint = " (does the file have a header line?)" if any(_is_number(c) for c in present) else ""
        packed = [d for d in OTHER_DELIMITERS if len(present) == 1 and d in present[0]]
        if packed:  # one column whose name holds the real header: another delimiter
            hint = f" (the file looks {OTHER_DELIMITERS[packed[0]]}-separated: save it with commas)"
        raise DataError(
            f"{name}: missing column {described}; the file has columns: {', '.join(present)}{hint}. "
            f"Map them with annotations.columns, e.g. columns: {{{missing[0]}: <column name>}}"
        )
    return {key: columns[key] for key in required + optional if columns[key] in present}


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def split_values(values: pd.Series, rows: pd.Series, name: str, mapping: dict | None) -> pd.Series:
    """train/val/test for each value of a split column ('' where the cell is empty).

    `mapping` (config `split_values`) is tried first, then SPLIT_ALIASES, case-insensitively.
    An unknown value is a config problem rather than a bad row, so it stops with the value,
    its first line and what would fix it.
    """
    lookup = {k.casefold(): v for k, v in SPLIT_ALIASES.items()} | {
        str(k).strip().casefold(): v for k, v in (mapping or {}).items()
    }
    mapped = values.map(lambda v: "" if pd.isna(v) else lookup.get(str(v).strip().casefold()))
    unknown = mapped.isna()
    if unknown.any():
        first = unknown.idxmax()
        raise DataError(
            f"{name} row {rows[first]}: split value {values[first]!r} is not train/val/test; map the "
            f"column's values with annotations.split_values, e.g. {{{values[first]!s}: train}} "
            f"(values seen: {', '.join(map(str, sorted(values[unknown].dropna().unique())[:10]))})"
        )
    return mapped
