"""Events as the CLI shows them: an event recorded again with the same content right after
itself (a reconcile that repeated it) is shown once, with a count."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from serinus.core.events import Event


@dataclass(frozen=True)
class Entry:
    """An event as shown: `repeats` counts identical copies recorded one after the other."""

    event: Event
    repeats: int = 1


def collapse(events: Sequence[Event]) -> list[Entry]:
    entries: list[Entry] = []
    for event in events:
        last = entries[-1].event if entries else None
        if last is not None and (last.type, last.message, last.data) == (
            event.type,
            event.message,
            event.data,
        ):
            entries[-1] = Entry(last, entries[-1].repeats + 1)
        else:
            entries.append(Entry(event))
    return entries
