"""A drift reference summary as bytes (an .npz of arrays, no pickle) and back."""

from __future__ import annotations

import numpy as np

from mlops_assets.compute.drift import MISSING, NumericReference, Reference


def reference_bytes(reference: Reference) -> bytes:
    """A reference summary as an .npz (arrays, no pickle), to be written atomically."""
    import io
    import json

    arrays = {}
    meta = {
        "rows": reference.rows,
        "numeric": {},
        "categorical": reference.categorical,
        "days": reference.days,
        "categorical_between": reference.categorical_between,
        "categorical_directions": reference.categorical_directions,
        "categorical_se": reference.categorical_se,
    }
    for i, (column, ref) in enumerate(reference.numeric.items()):
        for part in ("edges", "shares", "values"):
            arrays[f"{i}_{part}"] = getattr(ref, part)
        meta["numeric"][column] = {
            "index": i,
            "sketched": ref.sketched,
            "std": ref.std,
            "rows_nonnull": ref.rows_nonnull,
            "shape_between": ref.shape_between,
            "shape_directions": ref.shape_directions,
            "location_between": ref.location_between,
            "shape_se": ref.shape_se,
            "location_se": ref.location_se,
        }
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def load_reference(payload: bytes) -> Reference:
    """A reference summary from the bytes of its .npz."""
    import io
    import json

    with np.load(io.BytesIO(payload), allow_pickle=False) as data:
        meta = json.loads(bytes(data["meta"]).decode())
        reference = Reference(
            rows=meta["rows"],
            categorical=meta["categorical"],
            days=meta.get("days", 1),  # a summary from before day-to-day variation: none
            categorical_between=meta.get("categorical_between", {}),
            # a summary from before the directions were measured: spread evenly
            categorical_directions=meta.get("categorical_directions", {}),
        )
        reference.categorical_se = meta.get("categorical_se", {})
        if "categorical_se" not in meta:  # written before the estimates' errors were stored
            for name, tau2 in reference.categorical_between.items():
                directions = reference.categorical_directions.get(name) or (
                    len(_seen(meta["categorical"][name])) - 1
                )
                reference.categorical_se[name] = _old_se(reference, tau2, directions)
        for column, info in meta["numeric"].items():
            i = info["index"]
            reference.numeric[column] = NumericReference(
                edges=data[f"{i}_edges"],
                shares=data[f"{i}_shares"],
                values=data[f"{i}_values"],
                sketched=info["sketched"],
                std=info["std"],
                rows_nonnull=info.get(
                    "rows_nonnull", round(meta["rows"] * (1 - float(data[f"{i}_shares"][-1])))
                ),
                shape_between=info.get("shape_between", 0.0),
                shape_directions=info.get("shape_directions", 0.0),
                location_between=info.get("location_between", 0.0),
                shape_se=info["shape_se"]
                if "shape_se" in info
                else _old_se(
                    reference,
                    info.get("shape_between", 0.0),
                    info.get("shape_directions") or len(data[f"{i}_shares"]) - 2,
                ),
                location_se=info["location_se"]
                if "location_se" in info
                else _old_se(reference, info.get("location_between", 0.0), 1),
            )
    return reference


def _old_se(reference: Reference, between: float, directions: float) -> float:
    """The error a summary written before errors were stored implied: (days - 1) degrees of
    freedom per direction, sampling noise ignored (0 for an estimate of 0), as it was tested."""
    return between * float(np.sqrt(2 / (max(reference.days - 1, 1) * max(directions, 1))))


def _seen(counts: dict[str, int]) -> list[str]:
    return [category for category in counts if category != MISSING]
