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


def read_aliased_table(
    path: Path,
    *,
    columns: dict[str, Sequence[str]],
    required: Sequence[str],
    sheets: Sequence[str | int] = (),
    search_rows: int = 60,
) -> tuple[str, list[tuple[int, dict[str, Any]]]]:
    """Read the first sheet with a header row naming every ``required`` column under one of its
    spellings (``columns``: canonical name -> normalised variants, e.g. ``"subject": ("subject",
    "sub", "subid")``). ``sheets`` are tried first (exact or case-insensitive names, or indices),
    then every other sheet in order. ``.xls`` files need the ``xlrd`` package.

    Returns the sheet name and ``(excel_row_number, {canonical: value})`` per non-blank data row;
    columns without a known spelling are kept under their normalised header. Raises
    :class:`MiexError` naming the file when it cannot be read or no sheet has such a header.
    """
    book = _open_book(path)
    with book:
        order: list = []
        for sheet in sheets:
            order += [n for n in _sheet_candidates(book.sheet_names, sheet) if n not in order]
        order += [n for n in book.sheet_names if n not in order]
        variants = {v: canon for canon, names in columns.items() for v in names}
        for name in order:
            raw = pd.read_excel(book, sheet_name=name, header=None, dtype=object)
            for i in range(min(search_rows, len(raw))):
                header = [variants.get(norm_header(v), norm_header(v)) if not is_blank(v) else "" for v in raw.iloc[i]]
                if set(required) <= set(header):
                    return str(name), _rows_below(raw, i, header)
    wanted = ", ".join(f"{c} ({'/'.join(columns.get(c, (c,)))})" for c in required)
    raise MiexError(f"{path}: no sheet has a header row with the columns {wanted}")


def _open_book(path: Path) -> pd.ExcelFile:
    engine = "xlrd" if path.suffix.lower() == ".xls" else "openpyxl"
    try:
        return pd.ExcelFile(path, engine=engine)
    except ImportError:
        raise MiexError(f"{path}: reading .xls files needs the xlrd package (pip install xlrd), "
                        "or save the sheet as .xlsx") from None
    except Exception as exc:  # noqa: BLE001 - corrupt or non-Excel file
        raise MiexError(f"{path}: cannot read spreadsheet: {type(exc).__name__}: {exc}") from None


def _rows_below(raw: pd.DataFrame, header_at: int, header: list[str]) -> list[tuple[int, dict[str, Any]]]:
    names: list[str] = []
    for j, h in enumerate(header):
        name = h or f"_blank{j}"
        names.append(name if name not in names else f"{name}_{j}")
    rows = []
    for i in range(header_at + 1, len(raw)):
        values = raw.iloc[i].tolist()
        if all(is_blank(v) for v in values):
            continue
        rows.append((i + 1, dict(zip(names, values))))
    return rows
