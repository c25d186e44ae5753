"""A drift reference summary as bytes (an .npz of arrays, no pickle) and back."""

from __future__ import annotations

import numpy as np

from mlops_assets.compute.drift import NumericReference, Reference

# 2: the between-day estimates carry their standard errors (`day_variance.moment_se`)
FORMAT = 2


def reference_bytes(reference: Reference) -> bytes:
    """A reference summary as an .npz (arrays, no pickle), to be written atomically."""
    import io
    import json

    arrays = {}
    meta = {
        "format": FORMAT,
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
            "shape_se": ref.shape_se,
            "location_between": ref.location_between,
            "location_se": ref.location_se,
        }
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def load_reference(payload: bytes) -> Reference | None:
    """A reference summary from the bytes of its .npz; None for a summary of an older `FORMAT`
    (its tests would not be today's: fit the reference again)."""
    import io
    import json

    with np.load(io.BytesIO(payload), allow_pickle=False) as data:
        meta = json.loads(bytes(data["meta"]).decode())
        if meta.get("format", 1) < FORMAT:
            return None
        reference = Reference(
            rows=meta["rows"],
            categorical=meta["categorical"],
            days=meta["days"],
            categorical_between=meta["categorical_between"],
            categorical_directions=meta["categorical_directions"],
            categorical_se=meta["categorical_se"],
        )
        for column, info in meta["numeric"].items():
            i = info["index"]
            reference.numeric[column] = NumericReference(
                edges=data[f"{i}_edges"],
                shares=data[f"{i}_shares"],
                values=data[f"{i}_values"],
                **{key: value for key, value in info.items() if key != "index"},
            )
    return reference
