"""What the endpoint should serve: registry versions and how traffic splits between them."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ServingError(RuntimeError):
    """The endpoint cannot start or be updated; the message says why."""


class RolloutTarget(BaseModel):
    """Registry versions to serve and how traffic is split between them."""

    champion: int
    challenger: int | None = None
    rollout: str = Field("champion", pattern="^(champion|canary|shadow)$")
    canary_share: float = Field(0.0, ge=0, le=1)
    control_share: float = Field(0.0, ge=0, le=1)
    explore_share: float = Field(0.0, ge=0, le=1)
    explore_band: float = Field(1.0, ge=1)


def desired_target(registry, serving) -> RolloutTarget:
    """What should serve now: the registry's champion (and challenger, by the spec's rollout)."""
    champion = registry.champion_version()
    if champion is None:
        raise ServingError(
            f"{registry.model_name} has no champion yet: train one first (`mlops run`)"
        )
    challenger = registry.challenger_version() if serving.rollout != "champion" else None
    return RolloutTarget(
        champion=champion,
        challenger=challenger if challenger != champion else None,
        rollout=serving.rollout,
        canary_share=serving.canary_share,
        control_share=serving.control_share,
        explore_share=serving.explore_share,
        explore_band=serving.explore_band,
    )
