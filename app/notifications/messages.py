"""The message catalogue: a title and body per notification type and language (nb, en)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

FALLBACK_LOCALE = "nb"


@dataclass(frozen=True)
class NotificationType:
    name: str
    texts: dict[str, tuple[str, str]]  # locale -> (title template, body template)
    lifetime: timedelta  # how long an undelivered push is still worth sending
    description: dict[str, str]  # locale -> what the type is, for the preferences screen


TYPES: dict[str, NotificationType] = {
    t.name: t
    for t in (
        NotificationType(
            "path_start",
            {
                "nb": ("Ukens læringssti er klar", "{title} – ta første modul i en pause."),
                "en": ("This week's path is ready", "{title} – do the first module in a break."),
            },
            timedelta(days=2),
            {
                "nb": "Ukens læringssti er klar (mandag morgen).",
                "nn": "Veka sin læringssti er klar (måndag morgon).",
                "en": "This week's learning path is out (Monday morning).",
            },
        ),
        NotificationType(
            "streak_at_risk",
            {
                "nb": ("Ikke mist rekka di", "Du har {streak} dager på rad. Ta en modul i dag!"),
                "en": ("Keep your streak", "You have {streak} days in a row. Do a module today!"),
            },
            timedelta(hours=6),
            {
                "nb": "Om kvelden, når du lærte i går, men ikke ennå i dag.",
                "nn": "Om kvelden, når du lærte i går, men ikkje enno i dag.",
                "en": "In the evening, when you learned yesterday but not yet today.",
            },
        ),
        NotificationType(
            "due_reminder",
            {
                "nb": ("Snart frist", "«{title}» skal være fullført innen {due}."),
                "en": ("Due soon", "“{title}” is due by {due}."),
            },
            timedelta(days=1),
            {
                "nb": "Fristen for en obligatorisk modul eller sti nærmer seg.",
                "nn": "Fristen for ein obligatorisk modul eller sti nærmar seg.",
                "en": "A mandatory module or path is nearly due.",
            },
        ),
        NotificationType(
            "competition_end",
            {
                "nb": ("Konkurransen er over", "«{title}» er avsluttet. Se hvordan det gikk!"),
                "en": ("The competition is over", "“{title}” has ended. See how it went!"),
            },
            timedelta(days=2),
            {
                "nb": "En konkurranse avdelingen din var med i, er over.",
                "nn": "Ein konkurranse avdelinga di var med i, er over.",
                "en": "A competition your department took part in has ended.",
            },
        ),
        NotificationType(
            "nudge",
            {
                "nb": ("Hilsen fra {sender}", "{message}"),
                "en": ("A message from {sender}", "{message}"),
            },
            timedelta(days=1),
            {
                "nb": "Lederen din sender en påminnelse.",
                "nn": "Leiaren din sender ei påminning.",
                "en": "Your manager sends a reminder.",
            },
        ),
        NotificationType(
            "requirement_reminder",
            {
                "nb": ("Påkrevd opplæring", "«{title}» må være bestått innen {days} dager."),
                "en": ("Required training", "“{title_en}” must be passed within {days} days."),
            },
            timedelta(days=2),
            {
                "nb": "Påkrevd opplæring går ut (eller skal være tatt) om 30 og om 7 dager.",
                "nn": "Påkravd opplæring går ut (eller skal vere teken) om 30 og om 7 dagar.",
                "en": "A competence requirement expires (or is due) in 30 and again in 7 days.",
            },
        ),
        NotificationType(
            "mandatory_overdue",
            {
                "nb": (
                    "Obligatorisk opplæring på overtid",
                    "{overdue} av {members} i {department} har obligatorisk opplæring på overtid.",
                ),
                "en": (
                    "Mandatory training overdue",
                    "{overdue} of {members} in {department} have mandatory training overdue.",
                ),
            },
            timedelta(days=1),
            {
                "nb": "For ledere: noen i avdelingene dine har obligatorisk på overtid.",
                "nn": "For leiarar: nokon i avdelingane dine har obligatorisk på overtid.",
                "en": "For managers: people in your departments have mandatory work overdue.",
            },
        ),
        NotificationType(
            "manager_digest",
            {
                "nb": (
                    "Ukesoversikt: {department}",
                    "{missing} av {members} har ikke tatt ukens obligatoriske opplæring; "
                    "påkrevd opplæring går ut innen 30 dager for {expiring}.",
                ),
                "en": (
                    "Weekly summary: {department}",
                    "{missing} of {members} have not done this week's mandatory training; "
                    "required training expires within 30 days for {expiring}.",
                ),
            },
            timedelta(days=2),
            {
                "nb": "For ledere: hver onsdag, hvordan avdelingene dine ligger an denne uka.",
                "nn": "For leiarar: kvar onsdag, korleis avdelingane dine ligg an denne veka.",
                "en": "For managers: each Wednesday, how your departments stand this week.",
            },
        ),
    )
}


def pick_locale(locale: str | None) -> str:
    """nb and nn read the Norwegian text; anything else English; no preference Norwegian."""
    if not locale:
        return FALLBACK_LOCALE
    return "nb" if locale in ("nb", "nn", "no") else "en"


def render(type_name: str, locale: str | None, params: dict[str, Any]) -> tuple[str, str, str]:
    """(locale used, title, body) of a notification type in the user's language."""
    kind = TYPES[type_name]
    chosen = pick_locale(locale)
    title, body = kind.texts.get(chosen) or kind.texts[FALLBACK_LOCALE]
    values = _Defaults(params)
    # A translated title of what the message is about (a path's), in the user's own language.
    titles = params.get("titles")
    if isinstance(titles, dict):
        own = titles.get(locale or "") or titles.get(chosen)
        if own:
            values["title"] = own
    return chosen, title.format_map(values)[:200], body.format_map(values)


class _Defaults(dict[str, Any]):
    # A missing parameter renders as empty text rather than failing a whole fan-out.
    def __missing__(self, key: str) -> str:
        return ""
