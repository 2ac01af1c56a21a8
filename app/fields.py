"""Marshmallow fields for input whose range the rest of the app and the database can hold.

Python's dates stop at the years 1 and 9999 and PostgreSQL's `integer` at 2^31 - 1: a value
just inside what the parser takes (`0001-01-01T00:00:00+14:00`, `2147483648`) overflowed later,
in a time-zone conversion, a week's arithmetic or the database, as a 500. These fields refuse
it where it arrives, as a 422 keyed by the field.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import marshmallow as ma

# Generous for any date a person or a schedule names (a first working day, a due date, a
# competition, an offline attempt), and far enough from Python's limits that adding weeks or
# months, or changing time zone, cannot overflow.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)
INT32_MAX = 2**31 - 1  # PostgreSQL `integer`


class Moment(ma.fields.AwareDateTime):
    """An aware datetime between 1900 and 9000."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        moment = super()._deserialize(value, attr, data, **kwargs)
        try:
            within = EARLIEST <= moment.astimezone(UTC) < LATEST
        except OverflowError:  # an offset that pushes it past the year 1 or 9999
            within = False
        if not within:
            raise ma.ValidationError("Must lie between the years 1900 and 9000.")
        return moment


class Day(ma.fields.Date):
    """A date between 1900 and 9000."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> date:
        day = super()._deserialize(value, attr, data, **kwargs)
        if not EARLIEST.date() <= day < LATEST.date():
            raise ma.ValidationError("Must lie between the years 1900 and 9000.")
        return day


class Int32(ma.fields.Integer):
    """An integer a PostgreSQL `integer` column holds."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        number = super()._deserialize(value, attr, data, **kwargs)
        if not -INT32_MAX - 1 <= number <= INT32_MAX:
            raise ma.ValidationError(f"Must be between {-INT32_MAX - 1} and {INT32_MAX}.")
        return number
