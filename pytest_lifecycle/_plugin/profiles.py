"""Lifecycle profiles: how hard the suites try.

``ci`` (the default) is fast enough for every push; ``thorough`` is opt-in
(``--lifecycle-profile thorough``); ``quick`` is a smoke run -- every check,
at about a third of ``ci``'s sizes -- for a commit hook or a test suite that
runs the kit many times (this project's own); certify with ``ci`` or more.
Hypothesis settings are derived from whatever profile the user loaded and
passed to our machines only, so the user's own Hypothesis profile is never
clobbered.  Any registered Hypothesis profile name is accepted too: its
settings are used as they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from hypothesis import settings as Settings

__all__ = ["PROFILES", "LifecycleProfile", "get_profile"]


@dataclass(frozen=True, slots=True)
class LifecycleProfile:
    """Sizes of everything the suites repeat."""

    name: str
    #: Hypothesis examples per state machine.
    max_examples: int
    #: Steps per state-machine example.
    step_count: int
    #: Sessions/keys churned by leak rules (LC-16, LK-07, RS-07).
    churn: int
    #: SIGKILLs per crash-atomicity test (CK-05).
    crash_kills: int
    #: Iterations of stress rules per thread.
    stress_rounds: int
    #: A registered Hypothesis profile to use as is (instead of the sizes above).
    hypothesis_profile: str | None = None

    def hypothesis_settings(self) -> Settings:
        """Settings for the kit's state machines, derived from the active default."""
        from hypothesis import HealthCheck, settings

        if self.hypothesis_profile is not None:
            return settings.get_profile(self.hypothesis_profile)
        return settings(
            settings.default,
            max_examples=self.max_examples,
            stateful_step_count=self.step_count,
            # Provider calls cross threads; wall-clock deadlines would be noise.
            deadline=None,
            print_blob=True,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )


PROFILES: Final = {
    "ci": LifecycleProfile("ci", max_examples=60, step_count=30, churn=10_000, crash_kills=30, stress_rounds=300),
    "quick": LifecycleProfile("quick", max_examples=20, step_count=20, churn=3_000, crash_kills=10, stress_rounds=100),
    "thorough": LifecycleProfile(
        "thorough", max_examples=1000, step_count=80, churn=50_000, crash_kills=300, stress_rounds=5000
    ),
}


def get_profile(name: str) -> LifecycleProfile:
    """The lifecycle profile *name*, or the ``ci`` sizes with a Hypothesis profile of that name.

    :raises KeyError: neither a lifecycle nor a registered Hypothesis profile.
    """
    if name in PROFILES:
        return PROFILES[name]
    from hypothesis import settings

    try:
        settings.get_profile(name)
    except Exception:
        raise KeyError(
            f"unknown lifecycle profile {name!r}; use one of {', '.join(PROFILES)} "
            "or the name of a registered Hypothesis profile"
        ) from None
    base = PROFILES["ci"]
    return LifecycleProfile(
        name, base.max_examples, base.step_count, base.churn, base.crash_kills, base.stress_rounds, name
    )
