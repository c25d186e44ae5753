"""A drift reference summary as bytes (an .npz of arrays, no pickle) and back."""

from __future__ import annotations

import numpy as np

from mlops_assets.compute.drift import NumericReference, Reference


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
            )
    return reference
