"""The rows of new ORM objects, for the places that write them with one statement instead of the ORM flush."""

from __future__ import annotations

import functools
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import RelationshipDirection


@functools.cache
def _plan(mapper: sa.orm.Mapper) -> tuple[list[tuple[str, Any, bool]], list[tuple[str, str, str]]]:
    """A model's columns, worked out once: (key, Python default, whether the default is a function to call).

    And its many-to-one column pairs: (relationship key, local key, the key of the target's column).
    """
    columns = []
    for attr in mapper.column_attrs:
        col = attr.columns[0]
        if col.primary_key:
            continue
        if col.default is None:
            columns.append((attr.key, None, False))
        elif col.default.is_scalar:
            columns.append((attr.key, col.default.arg, False))
        else:
            columns.append((attr.key, functools.partial(col.default.arg, None), True))
    foreign = []
    for rel in mapper.relationships:
        if rel.direction is not RelationshipDirection.MANYTOONE:
            continue
        for local, remote in rel.local_remote_pairs:
            foreign.append(
                (rel.key, mapper.get_property_by_column(local).key, rel.mapper.get_property_by_column(remote).key)
            )
    return columns, foreign


def column_values(obj: Any) -> dict[str, Any]:
    """The column values of a new object by attribute key: what it set, else the column's Python default.

    A foreign key left unset takes the id of the object its many-to-one relationship names, as the flush would.
    """
    mapper = sa.inspect(obj).mapper
    columns, foreign = _plan(mapper)
    state = obj.__dict__
    values: dict[str, Any] = {}
    for key, default, call in columns:
        if key in state:
            values[key] = state[key]
        else:
            values[key] = default() if call else default
    for rel_key, key, target_key in foreign:
        target = state.get(rel_key)
        if target is not None and values.get(key) is None:
            values[key] = getattr(target, target_key)
    return values


def row_of(obj: Any) -> dict[str, Any]:
    """The same values by column name, ready for an INSERT."""
    mapper = sa.inspect(obj).mapper
    return {mapper.get_property(key).columns[0].name: value for key, value in column_values(obj).items()}
