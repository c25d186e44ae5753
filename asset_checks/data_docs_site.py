"""The home's Great Expectations Data Docs site: where it is, how GX builds it, and the link to a
page (`mlops up` serves it over HTTP). No GX import here."""

from __future__ import annotations

import os
from pathlib import Path

SITE = "local_site"
_VIEW = {"module_name": "asset_checks.data_docs", "class_name": "PageView"}
DATA_DOCS_SITE = {  # GX's default local site, with views that keep their compiled templates
    "class_name": "SiteBuilder",
    "show_how_to_buttons": False,
    "store_backend": {
        "class_name": "TupleFilesystemStoreBackend",
        "base_directory": "uncommitted/data_docs/local_site/",
    },
    "site_index_builder": {
        "class_name": "DefaultSiteIndexBuilder",
        "view": {**_VIEW, "class_name": "IndexPageView"},
        # the index lists the latest validations (GX reads each listed result at every build);
        # each kept result keeps its page (`quality.keep_validations`)
        "validation_results_limit": 20,
    },
    "site_section_builders": {
        "expectations": {"view": _VIEW},
        "validations": {"view": _VIEW},
        "profiling": "False",  # no profiler runs here
    },
}


def gx_folder(home: Path) -> Path:
    return home / "gx"


def data_docs_folder(home: Path) -> Path:
    """The static Data Docs site (`mlops up` serves it over HTTP)."""
    return gx_folder(home) / DATA_DOCS_SITE["store_backend"]["base_directory"]


def docs_link(url: str, home: Path) -> str:
    """A Data Docs page's URL: through `MLOPS_DATA_DOCS_URL` when a server publishes the site
    (`mlops up`), else the file itself."""
    base = os.environ.get("MLOPS_DATA_DOCS_URL")
    site = data_docs_folder(Path(home).resolve())
    for local in (f"file://{site}", site.as_uri()):  # GX's own form (not percent-encoded), ours
        if base and url.startswith(local):
            return base.rstrip("/") + url[len(local) :]
    return url
