"""The registry of collection resolvers: one module per way a ``[[collections]]`` table
finds its works, all behind the interface in ``base`` (as ``sources/`` is for sources)."""

from types import ModuleType

from monitor.resolvers import files, inline, openalex_author, orcid, ror

RESOLVERS: dict[str, ModuleType] = {
    module.KIND: module for module in (orcid, openalex_author, ror, files, inline)
}
