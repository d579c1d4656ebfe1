"""A read-only caller may have the cached object itself (copy=False); everyone else a copy."""

from __future__ import annotations

from tests.unit.adapters.kube.test_cache import NS, cached_client, one_pod_server, synced

from serinus.adapters.kube.resources import PODS, ObjectRef


async def test_copy_false_gives_the_cached_object_and_the_default_a_private_copy() -> None:
    server = one_pod_server()
    async with cached_client(server) as client:
        await synced(client)
        ref = ObjectRef(PODS, NS, "web-1")
        assert client.cache is not None
        held = client.cache.informers[(PODS, NS)].get(NS, "web-1")
        assert await client.get(ref, copy=False) is held
        assert await client.get_or_none(ref, copy=False) is held
        copied = await client.get(ref)
        assert copied == held and copied is not held
        assert server.requests["get"] == 0  # all three from the cache


async def test_copy_false_without_the_cache_reads_the_server() -> None:
    server = one_pod_server()
    async with cached_client(server) as client:  # not synced yet: the server answers
        got = await client.get_or_none(ObjectRef(PODS, NS, "web-1"), copy=False)
        assert got is not None and got["metadata"]["name"] == "web-1"
        assert await client.get_or_none(ObjectRef(PODS, NS, "nope"), copy=False) is None
