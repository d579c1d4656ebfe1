"""Removing a rollout entirely: its replicas, its routing, and its records."""

from __future__ import annotations

import logging

from serinus.app.registry import AdapterContext, build_platform, build_router
from serinus.core.errors import RouterError, SerinusError
from serinus.core.ports import Platform, StateStore, StoppableRouter, TrafficRouter
from serinus.core.status import COLORS

log = logging.getLogger("serinus.removal")


async def stop_everything(platform: Platform, router: TrafficRouter) -> None:
    """Tear down both colors and stop the router if serinus runs it itself (a local HAProxy).

    Shared routers (a VirtualService other teams edit) and an HAProxy serinus only attached to
    are left as they are. Every step is tried even when one fails (the first failure is raised
    after), so one color that cannot be stopped does not leave the rest running. The platform
    and the router find what they run from the process table too, so a removed state folder
    leaves nothing behind.
    """
    failures: list[SerinusError] = []
    for color in COLORS:
        try:
            await platform.tear_down(color)
        except SerinusError as exc:
            log.warning("cannot tear %s down: %s", color, exc)
            failures.append(exc)
    if isinstance(router, StoppableRouter):
        try:
            await router.stop()
        except RouterError as exc:
            log.info("router left running: %s", exc)
    if failures:
        raise failures[0]


async def remove_rollout(store: StateStore, context: AdapterContext) -> None:
    """Stop the rollout's replicas and routing, then forget it."""
    platform, router = build_platform(context), build_router(context)
    try:
        await stop_everything(platform, router)
    finally:
        await platform.close()
        await router.close()
    await store.delete(context.rollout.name)
