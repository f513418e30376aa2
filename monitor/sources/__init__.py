"""The registry of data sources: one module each, all behind the interface in ``base``."""

from types import ModuleType

from monitor.sources import crossref, openalex

SOURCES: dict[str, ModuleType] = {module.SPEC.name: module for module in (openalex, crossref)}
