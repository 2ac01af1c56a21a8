"""Spreadsheets and printouts of the insights: CSV that Excel in Norway opens as it is
(UTF-8 with a byte order mark, `;` between fields, whole percentages so no decimal separator
is needed), `.xlsx` written with XlsxWriter in constant-memory mode, and the training record
as a PDF written with fpdf2.

Rows arrive as iterators and are written one at a time, so an export of a 5 000-person region
holds one chunk of people in memory, never the whole list.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import xlsxwriter
from fpdf import FPDF

from app.insights import rules
from app.insights.service import MemberRow, TrainingRecord

CSV_MIMETYPE = "text/csv"
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PDF_MIMETYPE = "application/pdf"
BOM = "\ufeff"

_HEADERS = {
    "nb": {
        "name": "Navn",
        "username": "Brukernavn",
        "department": "Avdeling",
        "modules_completed": "Moduler fullført",
        "mandatory_missing": "Obligatoriske som mangler",
        "average_score": "Snittscore (%)",
        "points": "Poeng",
        "last_active_at": "Sist aktiv",
        "needs_follow_up": "Trenger oppfølging",
        "reasons": "Hvorfor",
        "reason_codes": "Årsakskoder",
        "yes": "ja",
        "no": "nei",
        "valid_until": "gyldig til",
        "status": {"valid": "gyldig", "expiring": "går ut snart", "expired": "utløpt",
                   "missing": "mangler"},
    },
    "en": {
        "name": "Name",
        "username": "Username",
        "department": "Department",
        "modules_completed": "Modules completed",
        "mandatory_missing": "Mandatory missing",
        "average_score": "Average score (%)",
        "points": "Points",
        "last_active_at": "Last active",
        "needs_follow_up": "Needs follow-up",
        "reasons": "Why",
        "reason_codes": "Reason codes",
        "yes": "yes",
        "no": "no",
        "valid_until": "valid until",
        "status": {"valid": "valid", "expiring": "expiring", "expired": "expired",
                   "missing": "missing"},
    },
}  # fmt: skip


def _words(locales: Sequence[str]) -> dict[str, Any]:
    language = rules.pick_language(locales)
    return _HEADERS["en" if language == "en" else "nb"]


def _local(moment: datetime | None, timezone: str) -> str:
    """A moment as local wall-clock time, minutes only: what a person reads in a cell."""
    if moment is None:
        return ""
    return moment.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M")


def _local_date(moment: datetime | None, timezone: str) -> str:
    if moment is None:
        return ""
    return moment.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d")


def _percent(value: float | None) -> int | str:
    return "" if value is None else round(value * 100)


# --- tables: a header and rows of cells -------------------------------------------------------


def member_table(
    rows: Iterable[MemberRow], *, locales: Sequence[str], timezone: str
) -> tuple[list[str], Iterator[list[Any]]]:
    words = _words(locales)
    header = [
        words[key]
        for key in (
            "name",
            "username",
            "department",
            "modules_completed",
            "mandatory_missing",
            "average_score",
            "points",
            "last_active_at",
            "needs_follow_up",
            "reasons",
            "reason_codes",
        )
    ]

    def cells() -> Iterator[list[Any]]:
        for row in rows:
            yield [
                row.user["display_name"],
                row.user["username"],
                row.department["name"],
                row.modules_completed,
                row.mandatory_missing,
                _percent(row.average_score),
                row.points,
                _local(row.last_active_at, timezone),
                words["yes"] if row.needs_follow_up else words["no"],
                rules.reasons_text(row.reasons, locales),
                " ".join(reason.code for reason in row.reasons),
            ]

    return header, cells()


def requirement_table(
    columns: Sequence[dict[str, Any]],
    rows: Iterable[dict[str, Any]],
    *,
    locales: Sequence[str],
    timezone: str,
) -> tuple[list[str], Iterator[list[Any]]]:
    words = _words(locales)
    header = [words["name"], words["username"], words["department"]]
    for column in columns:
        header += [column["title"], f"{column['title']} – {words['valid_until']}"]

    def cells() -> Iterator[list[Any]]:
        for row in rows:
            line: list[Any] = [
                row["user"]["display_name"],
                row["user"]["username"],
                row["department"]["name"],
            ]
            for column in columns:
                state = row["states"].get(column["id"])
                if state is None:  # does not apply to this person
                    line += ["", ""]
                else:
                    line += [
                        words["status"][state["status"]],
                        _local_date(state["valid_until"], timezone),
                    ]
            yield line

    return header, cells()


# --- writers ---------------------------------------------------------------------------------


def csv_chunks(header: list[str], rows: Iterable[list[Any]]) -> Iterator[str]:
    """The table as CSV text, a line at a time, starting with a byte order mark."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(header)
    yield BOM + buffer.getvalue()
    for row in rows:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(row)
        yield buffer.getvalue()


def xlsx_file(header: list[str], rows: Iterable[list[Any]], *, sheet: str) -> str:
    """Write the table to a temporary `.xlsx` file (rows go to disk as they come) and return
    its path; the caller streams it and removes it."""
    handle, path = tempfile.mkstemp(prefix="nanolearn-export-", suffix=".xlsx")
    os.close(handle)
    workbook = xlsxwriter.Workbook(path, {"constant_memory": True, "in_memory": False})
    try:
        worksheet = workbook.add_worksheet(sheet[:31])
        bold = workbook.add_format({"bold": True})
        worksheet.write_row(0, 0, header, bold)
        worksheet.freeze_panes(1, 0)
        for index, row in enumerate(rows, start=1):
            worksheet.write_row(index, 0, row)
    finally:
        workbook.close()
    return path


def file_chunks(path: str, *, size: int = 64 * 1024) -> Iterator[bytes]:
    """A file's bytes in chunks; the file is removed when done (or when the client leaves)."""
    try:
        with open(path, "rb") as handle:
            while chunk := handle.read(size):
                yield chunk
    finally:
        os.unlink(path)


# --- the training record ---------------------------------------------------------------------

_PDF_WORDS: dict[str, dict[str, Any]] = {
    "nb": {
        "title": "Opplæringsoversikt",
        "requirement": "Krav",
        "department": "Avdeling",
        "printed": "Skrevet ut",
        "validity": "Gyldighet",
        "months": "måneder",
        "no_expiry": "uten utløp",
        "columns": ("Navn", "Avdeling", "Status", "Bestått første gang", "Sist bestått",
                    "Gyldig til"),
        "status": {"valid": "gyldig", "expiring": "går ut snart", "expired": "utløpt",
                   "missing": "mangler"},
        "holders": "{held} av {total} har gyldig opplæring",
    },
    "en": {
        "title": "Training record",
        "requirement": "Requirement",
        "department": "Department",
        "printed": "Printed",
        "validity": "Validity",
        "months": "months",
        "no_expiry": "does not expire",
        "columns": ("Name", "Department", "Status", "First passed", "Last passed",
                    "Valid until"),
        "status": {"valid": "valid", "expiring": "expiring", "expired": "expired",
                   "missing": "missing"},
        "holders": "{held} of {total} hold valid training",
    },
}  # fmt: skip


def _latin1(text: str) -> str:
    # The PDF's built-in Helvetica covers Latin-1 (æ, ø, å and most Western names); anything
    # else is shown as "?" rather than failing the printout.
    return text.encode("latin-1", "replace").decode("latin-1")


def training_record_pdf(record: TrainingRecord, *, locales: Sequence[str], timezone: str) -> bytes:
    """The record as a one-table PDF for an inspector."""
    words = _PDF_WORDS["en" if rules.pick_language(locales) == "en" else "nb"]
    pdf = FPDF(orientation="landscape", format="A4")
    pdf.set_title(_latin1(f"{words['title']}: {record.requirement['title']}"))
    pdf.set_creator("Nanolearn")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    text: Callable[[str], str] = _latin1
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(0, 10, text(f"{words['title']}: {record.requirement['title']}"), new_x="LMARGIN",
             new_y="NEXT")  # fmt: skip
    pdf.set_font("Helvetica", "", 10)
    months = record.requirement.get("validity_months")
    validity = f"{months} {words['months']}" if months else words["no_expiry"]
    for line in (
        f"{words['department']}: {record.department}" + (
            f" ({record.organization})" if record.organization else ""),
        f"{words['validity']}: {validity}",
        f"{words['printed']}: {_local(record.printed_at, timezone)}",
        words["holders"].format(
            held=sum(1 for r in record.rows if r["status"] in ("valid", "expiring")),
            total=len(record.rows),
        ),
    ):  # fmt: skip
        pdf.cell(0, 6, text(line), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    with pdf.table(
        col_widths=(60, 50, 30, 40, 40, 40),
        text_align="LEFT",
        first_row_as_headings=True,
        line_height=6,
    ) as table:
        table.row([text(c) for c in words["columns"]])
        for row in record.rows:
            table.row(
                [
                    text(row["display_name"]),
                    text(row["department"]),
                    text(words["status"][row["status"]]),
                    _local_date(row["first_passed_at"], timezone),
                    _local_date(row["passed_at"], timezone),
                    _local_date(row["valid_until"], timezone),
                ]
            )
    return bytes(pdf.output())
