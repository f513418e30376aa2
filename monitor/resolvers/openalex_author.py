"""``openalex_author = "A…"``: the works OpenAlex lists for one author id (``author.id``)."""

from __future__ import annotations

from monitor.config import CollectionConfig
from monitor.resolvers.base import Context, Resolution
from monitor.resolvers.openalex_listing import resolve_filter, since

KIND = "openalex_author"


def describe(collection: CollectionConfig) -> str:
    return f"OpenAlex author {collection.identifier}{since(collection)}"


def resolve(collection: CollectionConfig, context: Context) -> Resolution:
    return resolve_filter("author.id", f"/authors/{collection.identifier}", collection, context)
