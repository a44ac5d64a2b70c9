"""The trained model in another SQL dialect (Spark for bulk re-linking at large scale).

A saved Splink model holds SQL rendered for the dialect it was trained on (DuckDB). For Spark,
render the model definition in Spark's dialect and carry the trained parameters over, level by
level; the labels must agree or the definition has changed since training.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mpi_linker.model.definition import settings


def for_dialect(splink_model: Mapping[str, Any], dialect: str) -> dict[str, Any]:
    rendered: dict[str, Any] = settings().get_settings(dialect).as_dict()  # type: ignore[no-untyped-call]
    rendered["probability_two_random_records_match"] = splink_model[
        "probability_two_random_records_match"
    ]
    for target, trained in zip(rendered["comparisons"], splink_model["comparisons"], strict=True):
        for level, trained_level in zip(
            target["comparison_levels"], trained["comparison_levels"], strict=True
        ):
            if level.get("label_for_charts") != trained_level.get("label_for_charts"):
                raise ValueError(
                    f"model definition changed since training: {target['output_column_name']}"
                )
            for parameter in ("m_probability", "u_probability"):
                if parameter in trained_level:
                    level[parameter] = trained_level[parameter]
    return rendered
