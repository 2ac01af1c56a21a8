"""The words of the store screen, in the organisation's language."""

from __future__ import annotations

from collections.abc import Mapping

TEXTS: Mapping[str, Mapping[str, str]] = {
    "nb": {
        "colleague": "en kollega",
        "board": "Ukens toppliste",
        "week": "Uke {week}",
        "rank": "Plass",
        "name": "Navn",
        "points": "Poeng",
        "no_points": "Ingen poeng ennå denne uken. Første modul gir plass på tavla!",
        "competition": "Konkurranse",
        "competition_place": "{department} ligger på {rank}. plass av {of}",
        "no_competition": "Ingen konkurranse akkurat nå.",
        "path": "Ukens læringssti",
        "path_done": "{done} av {of} har gjort ukens læringssti",
        "no_path": "Ingen læringssti denne uken.",
        "changed": "Sist endret {time}",
        "offline": "Mister kontakt med serveren – prøver igjen …",
        "last_contact": "Sist kontakt {time}.",
        "stopped": "Denne skjermen er slått av. Be lederen din om en ny lenke.",
    },
    "en": {
        "colleague": "a colleague",
        "board": "This week's leaderboard",
        "week": "Week {week}",
        "rank": "Rank",
        "name": "Name",
        "points": "Points",
        "no_points": "No points yet this week. The first module puts you on the board!",
        "competition": "Competition",
        "competition_place": "{department} is in place {rank} of {of}",
        "no_competition": "No competition right now.",
        "path": "This week's path",
        "path_done": "{done} of {of} have done this week's path",
        "no_path": "No path this week.",
        "changed": "Last change {time}",
        "offline": "Lost contact with the server – trying again …",
        "last_contact": "Last contact {time}.",
        "stopped": "This screen has been switched off. Ask your manager for a new link.",
    },
}
