"""The `deployment` platform: one Kubernetes Deployment (and Service) per color."""

from serinus.adapters.platforms.deployment.platform import DeploymentPlatform

__all__ = ["DeploymentPlatform"]
