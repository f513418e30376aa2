"""``works = ["10.…", …]``: a collection listed in config.toml itself."""

from __future__ import annotations

from monitor.config import CollectionConfig
from monitor.resolvers.base import Context, Found, Resolution

KIND = "works"


def describe(collection: CollectionConfig) -> str:
    n = len(collection.dois)
    return f"{n} DOI{'s' if n != 1 else ''} listed in config.toml"


def resolve(collection: CollectionConfig, context: Context) -> Resolution:
    return Resolution(tuple(Found(doi, via=("config",)) for doi in collection.dois))
