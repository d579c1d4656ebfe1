"""What the HAProxy router remembers in its state directory, so HAProxy can be rebuilt from it.

The configuration is always rendered from this state (server addresses, weights, header routes,
preview), so an HAProxy started again after a crash or a reboot serves exactly what the last
runtime commands had set, and a serinus restarted after `kill -9` knows the color shares it was
keeping (the per-server weights alone cannot tell a share whose color has no ready replica).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from serinus.adapters.private import write_private
from serinus.core.errors import RouterError
from serinus.core.status import COLORS, Color


@dataclass(frozen=True)
class Slot:
    """A replica bound to a server slot: where it listens and whether it may take traffic."""

    host: str
    port: int
    ready: bool


@dataclass(frozen=True)
class RouteSelection:
    """An enabled header route: which declared variant of its matches, and the color it sends to."""

    variant: int
    color: Color


@dataclass(frozen=True)
class RouterState:
    slots: dict[Color, tuple[Slot | None, ...]]
    shares: dict[Color, int] = field(default_factory=lambda: {"blue": 100, "green": 0})
    routes: dict[str, RouteSelection] = field(default_factory=dict)
    preview: Color | None = None

    @classmethod
    def empty(cls, slots_per_color: int) -> RouterState:
        return cls(slots={color: (None,) * slots_per_color for color in COLORS})

    def with_slots(self, color: Color, slots: tuple[Slot | None, ...]) -> RouterState:
        return replace(self, slots={**self.slots, color: slots})

    def ready_count(self, color: Color) -> int:
        return sum(1 for slot in self.slots[color] if slot is not None and slot.ready)

    def to_json(self) -> dict[str, Any]:
        return {
            "slots": {
                color: [None if s is None else [s.host, s.port, s.ready] for s in slots]
                for color, slots in self.slots.items()
            },
            "shares": dict(self.shares),
            "routes": {name: [r.variant, r.color] for name, r in self.routes.items()},
            "preview": self.preview,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], slots_per_color: int) -> RouterState:
        """The stored state, resized to `slots_per_color` (extra stored slots must be empty)."""
        slots: dict[Color, tuple[Slot | None, ...]] = {}
        for color in COLORS:
            stored = [
                None if s is None else Slot(str(s[0]), int(s[1]), bool(s[2]))
                for s in data["slots"][color]
            ]
            if any(s is not None for s in stored[slots_per_color:]):
                raise RouterError(
                    f"the stored HAProxy state uses more than {slots_per_color} {color} slots; "
                    "raise the slot count or remove the state directory"
                )
            stored = stored[:slots_per_color] + [None] * (slots_per_color - len(stored))
            slots[color] = tuple(stored)
        return cls(
            slots=slots,
            shares={color: int(data["shares"].get(color, 0)) for color in COLORS},
            routes={
                name: RouteSelection(int(variant), _color(color))
                for name, (variant, color) in data["routes"].items()
            },
            preview=None if data["preview"] is None else _color(data["preview"]),
        )


def _color(value: object) -> Color:
    for color in COLORS:
        if value == color:
            return color
    raise RouterError(f"the stored HAProxy state names an unknown color {value!r}")


def load_state(path: Path, slots_per_color: int) -> RouterState:
    if not path.exists():
        return RouterState.empty(slots_per_color)
    try:
        return RouterState.from_json(json.loads(path.read_text()), slots_per_color)
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        raise RouterError(f"cannot read the HAProxy router state {path}: {exc}") from exc


def save_state(path: Path, state: RouterState) -> None:
    """Write atomically (temp file + rename) so a kill never leaves half a state behind."""
    write_private(path, json.dumps(state.to_json(), indent=2, sort_keys=True))
