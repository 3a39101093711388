"""The query parameters of every paginated list (the rule: ``application.pagination``)."""

from typing import Annotated, TypeAlias

from litestar.params import QueryParameter

from application.pagination import DEFAULT_LIMIT, MAX_LIMIT

Limit: TypeAlias = Annotated[
    int | None,
    QueryParameter(
        name="limit", ge=1, le=MAX_LIMIT, description=f"Page size (default {DEFAULT_LIMIT})"
    ),
]
After: TypeAlias = Annotated[
    str | None,
    QueryParameter(name="after", max_length=64, description="The `next` of the previous page"),
]
