"""Removing a rollout entirely: its replicas, its routing, and its records."""

from __future__ import annotations

from serinus.app.registry import AdapterContext, build_platform, build_router
from serinus.core.ports import StateStore
from serinus.core.status import COLORS


async def remove_rollout(store: StateStore, context: AdapterContext) -> None:
    """Tear down both colors, stop the rollout's own router process if it has one, forget it."""
    platform, router = build_platform(context), build_router(context)
    try:
        for color in COLORS:
            await platform.tear_down(color)
        # Only routers serinus runs itself (HAProxy) have a process to stop; shared routers
        # (a VirtualService other teams edit) are left as they are.
        stop = getattr(router, "stop", None)
        if stop is not None:
            await stop()
    finally:
        await platform.close()
        await router.close()
    await store.delete(context.rollout.name)
