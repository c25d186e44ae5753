"""What the endpoint should serve: a small Ray actor every replica follows.

The target (champion and challenger versions, rollout, shares) lives in one named, detached actor
per application. `PUT /v1/admin/target` publishes a new generation; replicas poll it, load the
versions, swap, and report back, so the caller can wait until every live replica serves it. A
replica that restarts reads the current target instead of its start-up one.
"""

from __future__ import annotations

import contextlib
import time

import ray

from serving.rollout import RolloutTarget

NAMESPACE = "mlops"
LIVE_SECONDS = 3.0  # a replica that has not reported for this long is not waited for


@ray.remote(num_cpus=0)
class ServingControl:
    def __init__(self, target: dict):
        self.generation, self.target = 1, RolloutTarget(**target).model_dump()
        self.reports: dict[str, dict] = {}

    def get(self) -> tuple[int, dict]:
        return self.generation, self.target

    def set(self, target: dict) -> int:
        self.generation, self.target = self.generation + 1, RolloutTarget(**target).model_dump()
        return self.generation

    def report(self, replica: str, generation: int, error: str | None) -> None:
        self.reports[replica] = {"generation": generation, "error": error, "at": time.time()}

    def replicas(self) -> dict[str, dict]:
        """Replicas that reported within `LIVE_SECONDS`."""
        now = time.time()
        return {r: s for r, s in self.reports.items() if now - s["at"] <= LIVE_SECONDS}


def control_name(app: str) -> str:
    return f"{app}-control"


def start_control(app: str, target: RolloutTarget):
    """A fresh control actor for `app` (an earlier one is replaced)."""
    name = control_name(app)
    with contextlib.suppress(ValueError):
        ray.kill(ray.get_actor(name, namespace=NAMESPACE))
    for _ in range(50):  # the old name is released asynchronously
        try:
            return ServingControl.options(
                name=name, namespace=NAMESPACE, lifetime="detached"
            ).remote(target.model_dump())
        except ValueError:
            time.sleep(0.1)
    raise RuntimeError(f"the actor name {name} stayed taken")


def control_actor(name: str):
    return ray.get_actor(name, namespace=NAMESPACE)
