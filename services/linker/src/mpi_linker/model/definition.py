"""What the Splink model compares: one comparison per field, levels from strong to weak.

Thresholds follow Splink's defaults for names (Jaro-Winkler 0.92 / 0.8); the date levels add
ClinFuse's corruptions (day-month transposition, one-digit typos, off-by-one day/month/year).
"""

from __future__ import annotations

import splink.comparison_level_library as cll
import splink.comparison_library as cl
from splink import SettingsCreator, block_on

from mpi_linker.splink_adapter import ComparisonCreator

BLOCKING_KEYS_COLUMN = "blocking_keys"


def _given_name() -> ComparisonCreator:
    return cl.CustomComparison(
        output_column_name="given_name",
        comparison_levels=[
            cll.NullLevel("given_name"),
            cll.ExactMatchLevel("given_name", term_frequency_adjustments=True),
            cll.JaroWinklerLevel("given_name", 0.92),
            cll.ArrayIntersectLevel("given_aliases", min_intersection=1).configure(
                label_for_charts="Nickname of the same name"
            ),
            cll.ExactMatchLevel("given_dm").configure(label_for_charts="Same Double Metaphone"),
            cll.ColumnsReversedLevel("given_name", "family_name", symmetrical=True).configure(
                label_for_charts="Given and family names swapped"
            ),
            cll.JaroWinklerLevel("given_name", 0.8),
            cll.ElseLevel(),
        ],
    )


def _family_name() -> ComparisonCreator:
    return cl.CustomComparison(
        output_column_name="family_name",
        comparison_levels=[
            cll.NullLevel("family_name"),
            cll.ExactMatchLevel("family_name", term_frequency_adjustments=True),
            cll.JaroWinklerLevel("family_name", 0.92),
            cll.ExactMatchLevel("family_dm").configure(label_for_charts="Same Double Metaphone"),
            cll.CustomLevel(
                "(strpos(family_name_l, family_name_r) > 0"
                " OR strpos(family_name_r, family_name_l) > 0)",
                label_for_charts="One name inside the other (compound or hyphenated)",
                base_dialect_str="duckdb",
            ),
            cll.JaroWinklerLevel("family_name", 0.8),
            cll.ElseLevel(),
        ],
    )


def _birth_date() -> ComparisonCreator:
    return cl.CustomComparison(
        output_column_name="birth_date",
        comparison_levels=[
            cll.NullLevel("birth_date"),
            cll.ExactMatchLevel("birth_date"),
            cll.CustomLevel(
                "substr(birth_date_l, 1, 4) = substr(birth_date_r, 1, 4)"
                " AND substr(birth_date_l, 6, 2) = substr(birth_date_r, 9, 2)"
                " AND substr(birth_date_l, 9, 2) = substr(birth_date_r, 6, 2)",
                label_for_charts="Day and month transposed",
                base_dialect_str="duckdb",
            ),
            cll.DamerauLevenshteinLevel("birth_date", 1).configure(
                label_for_charts="One digit typo or swap"
            ),
            cll.AbsoluteDateDifferenceLevel(
                "birth_date", input_is_string=True, threshold=1, metric="month"
            ),
            cll.AbsoluteDateDifferenceLevel(
                "birth_date", input_is_string=True, threshold=1, metric="year"
            ),
            cll.ElseLevel(),
        ],
    )


def _exact_with_typo(column: str, label: str) -> ComparisonCreator:
    return cl.CustomComparison(
        output_column_name=column,
        comparison_levels=[
            cll.NullLevel(column),
            cll.ExactMatchLevel(column),
            cll.DamerauLevenshteinLevel(column, 1).configure(label_for_charts=label),
            cll.ElseLevel(),
        ],
    )


def _postcode() -> ComparisonCreator:
    return cl.CustomComparison(
        output_column_name="postcode",
        comparison_levels=[
            cll.NullLevel("postcode"),
            cll.ExactMatchLevel("postcode", term_frequency_adjustments=True),
            cll.CustomLevel(
                "substr(postcode_l, 1, 3) = substr(postcode_r, 1, 3)",
                label_for_charts="Same area",
                base_dialect_str="duckdb",
            ),
            cll.ElseLevel(),
        ],
    )


def _address() -> ComparisonCreator:
    return cl.CustomComparison(
        output_column_name="address",
        comparison_levels=[
            cll.NullLevel("address"),
            cll.ExactMatchLevel("address"),
            cll.JaroWinklerLevel("address", 0.9),
            cll.ElseLevel(),
        ],
    )


def settings(*, prior: float = 0.0001) -> SettingsCreator:
    """The model's settings; `prior` is the starting probability that two records match."""
    return SettingsCreator(
        link_type="dedupe_only",
        probability_two_random_records_match=prior,
        unique_id_column_name="unique_id",
        comparisons=[
            _given_name(),
            _family_name(),
            _birth_date(),
            _exact_with_typo("ssn", "One digit typo or swap"),
            _exact_with_typo("phone", "One digit typo or swap"),
            _postcode(),
            _address(),
            cl.ExactMatch("city").configure(term_frequency_adjustments=True),
            cl.ExactMatch("sex"),
        ],
        blocking_rules_to_generate_predictions=[
            block_on(BLOCKING_KEYS_COLUMN, arrays_to_explode=[BLOCKING_KEYS_COLUMN]),
        ],
        retain_intermediate_calculation_columns=True,
        retain_matching_columns=True,
    )


# EM sessions rotate what is held fixed so every comparison gets its m estimated; each is
# named by the columns it blocks on (a session over a column no record has is skipped).
EM_SESSIONS: tuple[tuple[str, ...], ...] = (
    ("birth_date",),
    ("family_dm", "given_dm"),
    ("ssn",),
    ("postcode", "address"),
)
