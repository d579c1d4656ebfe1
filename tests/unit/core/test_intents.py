"""Which operations apply to a rollout's status (`core.intents.refusal`)."""

from __future__ import annotations

import pytest

from serinus.core.intents import IntentKind, refusal
from serinus.core.status import Phase, Revision, RolloutStatus

FIRST = RolloutStatus(phase=Phase.PROVISIONING, stable=Revision(version="v1", color="blue"))


@pytest.mark.parametrize("kind", [IntentKind.PROMOTE, IntentKind.PROMOTE_FULL])
def test_a_first_deployment_has_nothing_to_promote(kind: IntentKind) -> None:
    """promote --full of a first deployment left it Promoting for good, and the next version was
    then rolled out beside a version that never went live (found by the model test)."""
    assert refusal(kind, FIRST) == "nothing to promote: no new version is being rolled out"
    rolling_out = FIRST.model_copy(
        update={"phase": Phase.PAUSED, "canary": Revision(version="v2", color="green")}
    )
    assert refusal(kind, rolling_out) is None
