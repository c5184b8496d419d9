"""The rows of new ORM objects, for the places that write them with one statement instead of the ORM flush."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import RelationshipDirection


def column_values(obj: Any) -> dict[str, Any]:
    """The column values of a new object by attribute key: what it set, else the column's Python default.

    A foreign key left unset takes the id of the object its many-to-one relationship names, as the flush would.
    """
    mapper = sa.inspect(obj).mapper
    values: dict[str, Any] = {}
    for attr in mapper.column_attrs:
        col = attr.columns[0]
        if col.primary_key:
            continue
        if attr.key in obj.__dict__:
            values[attr.key] = obj.__dict__[attr.key]
        elif col.default is not None:
            values[attr.key] = col.default.arg if col.default.is_scalar else col.default.arg(None)
        else:
            values[attr.key] = None
    for rel in mapper.relationships:
        target = obj.__dict__.get(rel.key)
        if rel.direction is not RelationshipDirection.MANYTOONE or target is None:
            continue
        for local, remote in rel.local_remote_pairs:
            key = mapper.get_property_by_column(local).key
            if values.get(key) is None:
                values[key] = getattr(target, sa.inspect(target).mapper.get_property_by_column(remote).key)
    return values


def row_of(obj: Any) -> dict[str, Any]:
    """The same values by column name, ready for an INSERT."""
    mapper = sa.inspect(obj).mapper
    return {mapper.get_property(key).columns[0].name: value for key, value in column_values(obj).items()}
