"""``ror = "https://ror.org/…"``: an institution's works, through OpenAlex's
``institutions.ror`` filter (an alias of ``authorships.institutions.ror``): every work
with an author affiliated with it."""

from __future__ import annotations

from monitor.config import CollectionConfig
from monitor.resolvers.base import Context, Resolution
from monitor.resolvers.openalex_listing import resolve_filter, since

KIND = "ror"


def describe(collection: CollectionConfig) -> str:
    return f"ROR {collection.identifier} in OpenAlex{since(collection)}"


def resolve(collection: CollectionConfig, context: Context) -> Resolution:
    return resolve_filter("institutions.ror", f"/institutions/ror:{collection.identifier}", collection, context)
