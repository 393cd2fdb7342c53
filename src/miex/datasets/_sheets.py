"""Reading annotation spreadsheets whose header row is not always the first row."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import pandas as pd

from miex.datasets.base import is_blank, norm_header
from miex.errors import MiexError


def read_table(
    path: Path,
    *,
    sheet: str | int = 0,
    required: Sequence[str],
    search_rows: int = 60,
) -> tuple[list[str], list[tuple[int, dict[str, Any]]]]:
    """Read one sheet; the header is the first row holding every ``required`` normalised name.

    Returns the normalised column names and ``(excel_row_number, {column: value})`` per data row
    (fully blank rows are left out). Blank header cells become ``_blank<i>``. Raises
    :class:`MiexError` naming the file when it cannot be read or the header is not found.
    """
    try:
        book = pd.ExcelFile(path, engine="openpyxl")
    except Exception as exc:  # noqa: BLE001 - corrupt or non-xlsx file
        raise MiexError(f"{path}: cannot read spreadsheet: {type(exc).__name__}: {exc}") from None
    with book:
        candidates = _sheet_candidates(book.sheet_names, sheet)
        if not candidates:
            raise MiexError(f"{path}: no sheet {sheet!r} (sheets: {', '.join(map(str, book.sheet_names))})")
        wanted = set(required)
        for name in candidates:
            raw = pd.read_excel(book, sheet_name=name, header=None, dtype=object)
            header_at = _header_row(raw, wanted, search_rows)
            if header_at is not None:
                break
        else:
            raise MiexError(
                f"{path}: sheet {candidates[0]!r} has no header row with the columns {', '.join(sorted(wanted))} "
                f"in its first {search_rows} rows"
            )
    columns: list[str] = []
    for j, v in enumerate(raw.iloc[header_at].tolist()):
        name = norm_header(v) if not is_blank(v) else f"_blank{j}"
        columns.append(name if name not in columns else f"{name}_{j}")
    rows: list[tuple[int, dict[str, Any]]] = []
    for i in range(header_at + 1, len(raw)):
        values = raw.iloc[i].tolist()
        if all(is_blank(v) for v in values):
            continue
        rows.append((i + 1, dict(zip(columns, values))))
    return columns, rows


def _sheet_candidates(names: list, sheet: str | int) -> list:
    """Sheets to try: the named one (exact, then case-insensitive) or the index."""
    if isinstance(sheet, int):
        return [names[sheet]] if -len(names) <= sheet < len(names) else []
    if sheet in names:
        return [sheet]
    return [n for n in names if str(n).strip().lower() == str(sheet).strip().lower()]


def _header_row(raw: pd.DataFrame, wanted: set[str], search_rows: int) -> int | None:
    for i in range(min(search_rows, len(raw))):
        names = {norm_header(v) for v in raw.iloc[i].tolist() if not is_blank(v)}
        if wanted <= names:
            return i
    return None
