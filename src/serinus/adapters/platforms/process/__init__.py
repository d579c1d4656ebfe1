"""The `process` platform: a workload's replicas as local processes on loopback ports."""

from serinus.adapters.platforms.process.platform import ProcessPlatform

__all__ = ["ProcessPlatform"]
