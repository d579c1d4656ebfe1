"""Removing a rollout entirely: its replicas, its routing, and its records."""

from __future__ import annotations

import logging

from serinus.app.registry import AdapterContext, build_platform, build_router
from serinus.core.errors import RouterError
from serinus.core.ports import Platform, StateStore, StoppableRouter, TrafficRouter
from serinus.core.status import COLORS

log = logging.getLogger("serinus.removal")


async def stop_everything(platform: Platform, router: TrafficRouter) -> None:
    """Tear down both colors and stop the router if serinus runs it itself (a local HAProxy).

    Shared routers (a VirtualService other teams edit) and an HAProxy serinus only attached to
    are left as they are.
    """
    for color in COLORS:
        await platform.tear_down(color)
    if isinstance(router, StoppableRouter):
        try:
            await router.stop()
        except RouterError as exc:
            log.info("router left running: %s", exc)


async def remove_rollout(store: StateStore, context: AdapterContext) -> None:
    """Stop the rollout's replicas and routing, then forget it."""
    platform, router = build_platform(context), build_router(context)
    try:
        await stop_everything(platform, router)
    finally:
        await platform.close()
        await router.close()
    await store.delete(context.rollout.name)
