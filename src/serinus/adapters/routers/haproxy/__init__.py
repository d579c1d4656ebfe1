"""Traffic routing through a local HAProxy (the `trafficRouting.haproxy` kind).

Pure parts: `weighting` (per-server weights giving exact color shares), `plan` (desired server
table and raise-before-lower command order), `config` (the rendered configuration), `headers`,
`slots`, `state`. Effects: `runtime` (admin socket), `process` (the daemon), `router`.
"""

from serinus.adapters.routers.haproxy.router import HaproxyRouter

__all__ = ["HaproxyRouter"]
