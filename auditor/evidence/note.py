"""A statement of the record the report words in its reader's language (schema 2.7), and the
English sentence an older record holds in its place."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Note(BaseModel):
    """A statement the report words in its reader's language (2.7): a code and its parameters
    (numbers, class and method names, the operator's own text), never the sentence itself."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str = Field(pattern=r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$", max_length=64)
    params: dict[str, str | int | float | bool] = Field(default_factory=dict, max_length=16)


Sentence = str  # an English sentence of a record before 2.7, shown as it is (bounded by `store`)
