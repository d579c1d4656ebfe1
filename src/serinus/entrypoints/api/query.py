"""Unknown query parameters are an error naming them (as a misspelt body field is), not ignored:
`?namspace=shop` must not quietly show the default namespace."""

from __future__ import annotations

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from serinus.core.errors import InvalidInput


async def known_query(request: Request) -> None:
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    known = _query_names(route.dependant)
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        expected = ", ".join(sorted(known)) or "none"
        raise InvalidInput(
            [f"query.{name}: not a parameter of this endpoint (expected: {expected})"
             for name in unknown],
            "request",
        )  # fmt: skip


def _query_names(dependant: Dependant) -> set[str]:
    names = {field.alias for field in dependant.query_params}
    for inner in dependant.dependencies:
        names |= _query_names(inner)
    return names
