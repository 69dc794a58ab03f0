"""Configuration: the strict base model and how validation errors are told."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, ValidationError

Point = tuple[float, float]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def format_validation_error(err: ValidationError, origin: str) -> str:
    """Render a pydantic error as one line per problem, each naming its dotted path."""
    lines = []
    for e in err.errors():
        path = ".".join(str(p) for p in e["loc"])
        msg = e["msg"].removeprefix("Value error, ")  # our validators' own words
        lines.append(f"{origin}: {path}: {msg}" if path else f"{origin}: {msg}")
    return "\n".join(lines)
