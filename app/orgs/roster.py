"""The HR roster import: users created or updated from a CSV file, all or nothing.

Files come from HR systems and from Excel, whose Norwegian default separates with `;` and
whose "CSV UTF-8" starts with a byte order mark; both are read as they are. Every row's
department is resolved up front and named in the report, so nobody lands in a department
the admin did not mean.
"""

from __future__ import annotations

import codecs
import csv
import io
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.passwords import hash_password
from app.errors import Unprocessable
from app.fields import EARLIEST, LATEST
from app.orgs.models import ROLES, Department, User, department_name_key
from app.orgs.service import (
    MAX_NAME_LENGTH,
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    ROSTER_COLUMNS,
    UNUSABLE_PASSWORD,
    USERNAME_PATTERN,
    create_department,
)

DELIMITERS = (",", ";", "\t")
PATH_SEPARATOR = "/"
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab"}


@dataclass
class RosterReport:
    created: int = 0
    updated: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)  # always empty when returned
    rows: list[dict[str, Any]] = field(default_factory=list)
    delimiter: str = ","


def decode_roster(raw: bytes) -> str:
    """The text of an uploaded roster: UTF-8 (with or without a BOM) or UTF-16 with its BOM
    (Excel's "Unicode text"); anything else is a 422 that says what to save it as."""
    try:
        if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return raw.decode("utf-16")
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Unprocessable(
            "The roster is not UTF-8.",
            errors={"file": ['Save the CSV as UTF-8 (in Excel: "CSV UTF-8").']},
        ) from None


def _header(line: str, delimiter: str) -> list[str]:
    cells = next(csv.reader([line], delimiter=delimiter), [])
    return [cell.strip().lower() for cell in cells]


def detect_delimiter(text: str) -> str | None:
    """The separator (`,`, `;` or tab) with which the first line holds the required columns."""
    first_line = text.split("\n", 1)[0].rstrip("\r")
    for delimiter in sorted(DELIMITERS, key=lambda d: -first_line.count(d)):
        if all(column in _header(first_line, delimiter) for column in ROSTER_COLUMNS):
            return delimiter
    return None


class _Departments:
    """The organisation's departments, found by id, by name, or by a path of names."""

    def __init__(self, departments: list[Department]) -> None:
        self.by_id = {d.id: d for d in departments}
        self.by_key: dict[str, list[Department]] = {}
        for department in departments:
            self.by_key.setdefault(department.name_key or "", []).append(department)
        self._suffixes: dict[tuple[str, ...], list[Department]] | None = None
        # A roster names the same few departments on many rows: each cell is looked up once.
        self._found: dict[str, list[Department]] = {}

    def _chain(self, department: Department) -> list[Department]:
        """The department and its ancestors, nearest first (a cycle is cut where it closes)."""
        chain: list[Department] = []
        current: Department | None = department
        seen: set[str] = set()
        while current is not None and current.id not in seen:
            seen.add(current.id)
            chain.append(current)
            current = self.by_id.get(current.parent_id or "")
        return chain

    def path(self, department: Department) -> str:
        names = [d.name for d in reversed(self._chain(department))]
        return f" {PATH_SEPARATOR} ".join(names)

    def _by_path_suffix(self) -> dict[tuple[str, ...], list[Department]]:
        """Departments by every tail of their path of name keys (`(store, kasse)`, `(kasse,)`):
        built once, on the first cell that is a path."""
        if self._suffixes is None:
            self._suffixes = {}
            for department in self.by_id.values():
                keys = tuple(d.name_key or "" for d in reversed(self._chain(department)))
                for start in range(len(keys)):
                    self._suffixes.setdefault(keys[start:], []).append(department)
        return self._suffixes

    def find(self, cell: str) -> list[Department]:
        """Every department the cell may mean: an id, a name, or `Parent / Child` (from any
        level down)."""
        found = self._found.get(cell)
        if found is None:
            found = self._found[cell] = self._find(cell)
        return found

    def _find(self, cell: str) -> list[Department]:
        if cell in self.by_id:
            return [self.by_id[cell]]
        named = self.by_key.get(department_name_key(cell), [])
        if named or PATH_SEPARATOR not in cell:
            return named
        wanted = tuple(department_name_key(part) for part in cell.split(PATH_SEPARATOR))
        return list(self._by_path_suffix().get(wanted, []))

    def add(self, department: Department) -> None:
        """A department the import created: later rows and the report find it."""
        self.by_id[department.id] = department
        self.by_key.setdefault(department.name_key or "", []).append(department)
        self._found.clear()
        self._suffixes = None


@dataclass
class _Planned:
    line: int
    row: dict[str, str]
    roles: list[str]
    department: Department | None
    new_department: tuple[str | None, str] | None  # (parent id, name) to create
    started: date | None


def import_roster(
    session: Session, *, org_id: str, csv_text: str, create_departments: bool = False
) -> RosterReport:
    """Create or update users from an HR roster (`username,display_name,department,roles`).

    All or nothing: any problem is a 422 listing every one, and nothing is written. The
    columns may be separated by `,`, `;` or tabs. `department` is a department's name (case
    aside), its path of names when the name is not unique (`Butikk Sentrum / Kasse`), or its
    id; the report says which department each row got. Optional columns: `password` (new users
    without one cannot log in until an admin sets one) and `started_on` (YYYY-MM-DD, the first
    working day onboarding weeks count from). `roles` is separated by `;` or `|`.
    """
    csv_text = csv_text.lstrip("\ufeff")  # a byte order mark read as text
    delimiter = detect_delimiter(csv_text)
    if delimiter is None:
        first_line = csv_text.split("\n", 1)[0].rstrip("\r")
        missing = [c for c in ROSTER_COLUMNS if c not in _header(first_line, ",")]
        _refuse(
            [
                {
                    "row": 1,
                    "field": "header",
                    "message": f"Missing columns: {', '.join(missing)}. Expected a first line "
                    f"naming the columns {', '.join(ROSTER_COLUMNS)}, separated by commas, "
                    f"semicolons or tabs; it reads {first_line[:200]!r}.",
                }
            ]
        )
    assert delimiter is not None
    reader = csv.DictReader(io.StringIO(csv_text), delimiter=delimiter)
    header = [name.strip().lower() for name in (reader.fieldnames or [])]
    reader.fieldnames = header
    departments = _Departments(
        list(session.scalars(select(Department).where(Department.org_id == org_id)))
    )
    existing = {u.username: u for u in session.scalars(select(User).where(User.org_id == org_id))}
    seen: set[str] = set()
    errors: list[dict[str, Any]] = []
    planned: list[_Planned] = []
    for line, raw in enumerate(reader, start=2):
        problems: list[tuple[str, str]] = []
        # csv puts the surplus values of a row longer than the header under the key None.
        if raw.pop(None, None) is not None:
            problems.append(("_row", f"More values than the {len(header)} columns."))
        row = {(k or "").strip(): (v or "").strip() for k, v in raw.items()}
        username = row.get("username", "")
        if not username:
            problems.append(("username", "Required."))
        elif username in seen:
            problems.append(("username", "Appears more than once in the file."))
        elif not USERNAME_PATTERN.match(username):
            problems.append(("username", "Letters, digits and . _ @ + - only, at most 150."))
        seen.add(username)
        if not row.get("display_name"):
            problems.append(("display_name", "Required."))
        elif len(row["display_name"]) > MAX_NAME_LENGTH:
            problems.append(("display_name", f"At most {MAX_NAME_LENGTH} characters."))
        roles = [r.strip() for r in row.get("roles", "").replace("|", ";").split(";") if r.strip()]
        roles = list(dict.fromkeys(roles)) or ["learner"]
        # PostgreSQL text cannot hold NUL; the username rule above already refuses it there.
        problems.extend(
            (name, "Must not contain NUL characters.")
            for name, value in row.items()
            if "\x00" in value and name != "username"
        )
        problems.extend(("roles", f"Unknown role: {r}") for r in roles if r not in ROLES)
        department, new_department, problem = _department_for(
            departments, row.get("department", ""), create_departments
        )
        if problem:
            problems.append(("department", problem))
        password = row.get("password", "")
        if password and not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
            problems.append(
                (
                    "password",
                    f"Between {MIN_PASSWORD_LENGTH} and {MAX_PASSWORD_LENGTH} characters.",
                )
            )
        if username not in existing and row.get("password", "") == "" and "password" in header:
            problems.append(("password", "Required for a new user when the column is present."))
        started = None
        if row.get("started_on"):
            try:
                started = date.fromisoformat(row["started_on"])
            except ValueError:
                problems.append(("started_on", "A date as YYYY-MM-DD."))
            else:
                # As the API's dates (app.fields): weeks counted from it must not overflow.
                if not EARLIEST.date() <= started < LATEST.date():
                    problems.append(("started_on", "Must lie between the years 1900 and 9000."))
        errors.extend({"row": line, "field": f, "message": m} for f, m in problems)
        planned.append(_Planned(line, row, roles, department, new_department, started))
    if errors:
        _refuse(errors)
    return _apply(session, org_id, planned, existing, departments, delimiter)


def _department_for(
    departments: _Departments, cell: str, create: bool
) -> tuple[Department | None, tuple[str | None, str] | None, str | None]:
    """(the department a cell names, or the one to create, or why neither)."""
    if not cell:
        return None, None, None
    if len(cell) > MAX_NAME_LENGTH * 4:
        return None, None, f"At most {MAX_NAME_LENGTH} characters per name."
    found = departments.find(cell)
    if len(found) == 1:
        return found[0], None, None
    if len(found) > 1:
        paths = sorted(departments.path(d) for d in found)
        return (
            None,
            None,
            f"{len(found)} departments are named {cell!r}: {'; '.join(paths)}. Write the path "
            f"(e.g. {paths[0]!r}) or the department's id.",
        )
    parent_path, _, name = cell.rpartition(PATH_SEPARATOR)
    name = name.strip()
    if not create:
        return None, None, f"No department named {cell!r}."
    if not name or len(name) > MAX_NAME_LENGTH:
        return None, None, f"A department name of 1 to {MAX_NAME_LENGTH} characters."
    if not parent_path.strip():
        return None, (None, name), None
    parents = departments.find(parent_path.strip())
    if len(parents) != 1:
        return None, None, f"No single department {parent_path.strip()!r} to create {name!r} in."
    return None, (parents[0].id, name), None


def _refuse(errors: list[dict[str, Any]]) -> None:
    raise Unprocessable(
        f"The roster has {len(errors)} problem(s); nothing was imported.",
        errors=roster_errors_by_path(errors),
        extra={"problems": errors},
    )


def roster_errors_by_path(problems: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Row problems as a problem's `errors`, keyed `rows[<line>].<column>` (line 1: header)."""
    errors: dict[str, list[str]] = {}
    for problem in problems:
        errors.setdefault(f"rows[{problem['row']}].{problem['field']}", []).append(
            problem["message"]
        )
    return errors


def _apply(
    session: Session,
    org_id: str,
    planned: list[_Planned],
    existing: dict[str, User],
    departments: _Departments,
    delimiter: str,
) -> RosterReport:
    report = RosterReport(delimiter=_DELIMITER_NAMES[delimiter])
    created_departments: dict[tuple[str | None, str], Department] = {}
    for plan in planned:
        department, new = plan.department, False
        if plan.new_department is not None:
            parent_id, name = plan.new_department
            wanted = (parent_id, department_name_key(name))
            department = created_departments.get(wanted)
            if department is None:
                department = create_department(
                    session, org_id=org_id, name=name, parent_id=parent_id
                )
                created_departments[wanted] = department
                departments.add(department)
            new = True
        row = plan.row
        user = existing.get(row["username"])
        password = row.get("password") or None
        if user is None:
            session.add(
                User(
                    org_id=org_id,
                    username=row["username"],
                    display_name=row["display_name"],
                    password_hash=hash_password(password) if password else UNUSABLE_PASSWORD,
                    department_id=department.id if department else None,
                    roles=plan.roles,
                    started_on=plan.started,
                )
            )
            report.created += 1
        else:
            user.display_name = row["display_name"]
            user.department_id = department.id if department else None
            user.roles = plan.roles
            if plan.started:
                user.started_on = plan.started
            if password:
                user.password_hash = hash_password(password)
            report.updated += 1
        report.rows.append(
            {
                "row": plan.line,
                "username": row["username"],
                "action": "updated" if user is not None else "created",
                "department": None
                if department is None
                else {
                    "id": department.id,
                    "name": department.name,
                    "path": departments.path(department),
                    "created": new,
                },
            }
        )
    session.flush()
    return report
