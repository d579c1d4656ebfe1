"""`serinus operator`: the Kubernetes controller of Rollout objects.

A watch cache of the Rollouts (one namespace or all) and of what they depend on tells a driver
per rollout when something that matters changed; each driver runs the SAME app Engine as the
local mode, with the Kubernetes store and the router/platform the registry builds. A Lease makes
sure that only one replica acts at a time. See runtime.py for how the pieces start and stop.
"""
