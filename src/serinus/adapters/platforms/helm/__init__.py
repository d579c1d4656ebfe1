"""The `helm` platform: a chart rendered per color with `helm template` and applied by serinus."""

from serinus.adapters.platforms.helm.platform import HelmPlatform

__all__ = ["HelmPlatform"]
