"""The registry of data sources: one module each, all behind the interface in ``base``.

The order is the order of status lines and report tables.
"""

from types import ModuleType

from monitor.sources import (
    altmetric,
    crossref,
    dimensions,
    europepmc,
    icite,
    openalex,
    opencitations,
    pubmed,
    scopus,
    semanticscholar,
    unpaywall,
)

SOURCES: dict[str, ModuleType] = {
    module.SPEC.name: module
    for module in (
        openalex,
        crossref,
        semanticscholar,
        opencitations,
        europepmc,
        icite,
        pubmed,
        dimensions,
        unpaywall,
        scopus,
        altmetric,
    )
}


def title_of(source: str) -> str:
    """How people call a source ("OpenAlex"); an unknown name as it is."""
    module = SOURCES.get(source)
    return module.SPEC.title if module else source


def lists_per_request(source: str) -> int:
    """Citing lists one paid request may bring: 0 where a source's lists cost none (they
    come with its counts) or it lists none, a batch query's where it asks several works'
    lists at once (OpenAlex's ``cites:`` OR), else one."""
    module = SOURCES[source]
    if module.SPEC.free_lists or not hasattr(module, "fetch_citing"):
        return 0
    return module.CITES_PER_QUERY if hasattr(module, "fetch_citing_batch") else 1
