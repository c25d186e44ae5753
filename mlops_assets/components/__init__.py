"""Component types of the code location: a dataset (`DatasetComponent`) is one instance each,
`defs/<name>/defs.yaml` naming its spec."""

from mlops_assets.components.dataset import DatasetComponent

__all__ = ["DatasetComponent"]
