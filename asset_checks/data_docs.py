"""Great Expectations' Data Docs page views, with compiled templates kept for the process.

GX's views compile every Jinja template again for every page they render: measured, two thirds
of the time a validation's page takes. These views are GX's own, sharing Jinja's compiled
templates through a bytecode cache. The Data Docs site of the home's context names them
(`data_docs_site.DATA_DOCS_SITE`); GX imports this module when it builds a page.
"""

import jinja2
from great_expectations.render.view import DefaultJinjaIndexPageView, DefaultJinjaPageView


class _CompiledTemplates(jinja2.BytecodeCache):
    """Compiled templates in memory (Jinja checks each against its source's checksum)."""

    def __init__(self) -> None:
        self.compiled: dict[str, bytes] = {}

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        if bucket.key in self.compiled:
            bucket.bytecode_from_string(self.compiled[bucket.key])

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        self.compiled[bucket.key] = bucket.bytecode_to_string()


_COMPILED = _CompiledTemplates()


class PageView(DefaultJinjaPageView):
    """GX's page view (suites, validation results), its templates compiled once."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.env.bytecode_cache = _COMPILED


class IndexPageView(DefaultJinjaIndexPageView):
    """GX's index page view, its templates compiled once."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.env.bytecode_cache = _COMPILED
