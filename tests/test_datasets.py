"""The registered datasets (`defs/<name>/defs.yaml`, `mlops_assets.config.catalog`): what the
settings, the endpoint's routes and `--dataset NAME` make of them. No Dagster run."""

import pytest

from mlops_assets.config import catalog
from mlops_assets.config.settings import BUILTIN_SPEC, Settings


def register(defs, name: str, spec: str, kind: str = catalog.COMPONENT) -> None:
    (defs / name).mkdir(parents=True)
    (defs / name / "defs.yaml").write_text(f"type: {kind}\nattributes:\n  spec: {spec}\n")


@pytest.fixture
def two_datasets(tmp_path, monkeypatch):
    """A defs folder with lending and anes96 registered (anes96's spec by a path relative to
    its folder), and another component type beside them."""
    defs = tmp_path / "defs"
    register(defs, "lending", str(BUILTIN_SPEC))
    register(defs, "anes96", "../../specs/anes96.yaml")
    register(defs, "other", "x.yaml", kind="dagster.components.DefsFolderComponent")
    monkeypatch.setattr(catalog, "DEFS", defs)
    monkeypatch.delenv("MLOPS_DATASET", raising=False)
    return defs


def test_registered_datasets_are_the_components_of_our_type(two_datasets):
    found = catalog.registered_datasets()
    assert list(found) == ["anes96", "lending"]  # not `other`, another component type
    assert found["anes96"] == two_datasets.parent / "specs" / "anes96.yaml"
    assert found["lending"] == BUILTIN_SPEC.resolve()


def test_a_dataset_without_its_spec_is_an_error_naming_the_file(two_datasets):
    (two_datasets / "broken").mkdir()
    (two_datasets / "broken" / "defs.yaml").write_text(f"type: {catalog.COMPONENT}\n")
    with pytest.raises(ValueError, match=r"broken/defs.yaml.*spec"):
        catalog.registered_datasets()


def test_settings_cover_every_registered_dataset_unless_one_is_named(two_datasets, tmp_path):
    anes96 = tmp_path / "specs" / "anes96.yaml"
    every = Settings.resolve(home=tmp_path)
    assert every.datasets == (anes96, BUILTIN_SPEC.resolve())
    assert every.dataset_spec == BUILTIN_SPEC.resolve() and every.uses_simulator
    assert "MLOPS_DATASET" not in every.env()  # children see every dataset too
    named = Settings.resolve(home=tmp_path, dataset="anes96")
    assert named.datasets == (anes96,) and named.env()["MLOPS_DATASET"] == str(anes96)
    assert Settings.resolve(home=tmp_path, dataset=str(anes96)).datasets == named.datasets


def test_an_unknown_dataset_name_lists_the_registered_ones(two_datasets):
    with pytest.raises(ValueError, match=r"no dataset 'churn'.*anes96, lending"):
        catalog.spec_of("churn")


def test_routes_are_prefixed_only_when_several_datasets_are_registered(two_datasets):
    assert catalog.route_prefix("anes96") == "/anes96"
    assert catalog.route_prefix("one_off") == ""  # a spec that is not registered
    for name in ("anes96", "other"):
        (two_datasets / name / "defs.yaml").unlink()
    assert catalog.route_prefix("lending") == ""  # one dataset: today's paths


def test_a_dataset_folder_must_be_named_as_its_spec(two_datasets, tmp_path, monkeypatch):
    from types import SimpleNamespace

    from mlops_assets.components import DatasetComponent

    monkeypatch.setenv("MLOPS_HOME", str(tmp_path / "home"))
    component = DatasetComponent(spec=str(BUILTIN_SPEC))
    with pytest.raises(ValueError, match=r"registers the dataset 'lending'.*named lending"):
        component.build_defs(SimpleNamespace(path=two_datasets / "credit"))
    defs = component.build_defs(SimpleNamespace(path=two_datasets / "lending"))
    assert dg_keys(defs) >= {"lending/raw", "lending/champion"}


def dg_keys(defs) -> set[str]:
    return {key.to_user_string() for assets in defs.assets for key in assets.keys}
