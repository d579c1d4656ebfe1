"""Which entries of a shared routing object serinus manages (VirtualService `http` routes,
HTTPRoute `rules`), shared by the Kubernetes routers so they select and complain alike."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from serinus.core.errors import NotFound, RouterError


def name_of(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name", "?"))


def select_managed(
    entries: Sequence[Mapping[str, Any]],
    wanted: Sequence[str],
    is_serinus_own: Callable[[Mapping[str, Any]], bool],
    owner: str,
    entry: str,
) -> list[int]:
    """Indexes of the named entries (NotFound lists what exists), or of every entry but
    serinus's own (header routes) when no names are given (RouterError when there is none).

    `owner` reads like `VirtualService 'shop'`, `entry` like `HTTP route`."""
    if wanted:
        by_name = {str(item.get("name")): index for index, item in enumerate(entries)}
        missing = [name for name in wanted if name not in by_name]
        if missing:
            known = ", ".join(sorted(n for n in by_name if n != "None")) or "none named"
            raise NotFound(
                f"{owner} has no {entry} named {', '.join(repr(m) for m in missing)} "
                f"(its {entry.split()[-1]}s: {known})"
            )
        return sorted(by_name[name] for name in wanted)
    indexes = [index for index, item in enumerate(entries) if not is_serinus_own(item)]
    if not indexes:
        raise RouterError(f"{owner} has no {entry} to manage")
    return indexes
