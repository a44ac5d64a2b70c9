"""Applies a drawn sequence of errors to one facility record and logs every real change."""

from __future__ import annotations

import dataclasses
import random

from mpi_training.corruption.config import CorruptionConfig
from mpi_training.corruption.errors import ERROR_TYPES, Context, ErrorType, Record

# Redraws allowed per wanted error before giving up on a record with little left to corrupt.
MAX_DRAWS_PER_ERROR = 10


@dataclasses.dataclass(frozen=True)
class AppliedError:
    """One field change; `seq` numbers the error within its record (a swap changes two fields)."""

    seq: int
    field: str
    error_type: str
    before: str | None
    after: str | None


def error_count(config: CorruptionConfig, rng: random.Random) -> int:
    if rng.random() < config.multi_error_probability:
        return rng.randint(config.min_errors, config.max_errors)
    return min(1, config.max_errors)


@dataclasses.dataclass(frozen=True)
class Corruption:
    """A corrupted record, its changes in order, and how many errors were attempted."""

    record: Record
    applied: list[AppliedError]
    attempts: int


def corrupt(
    record: Record, context: Context, config: CorruptionConfig, rng: random.Random
) -> tuple[Record, list[AppliedError]]:
    """A corrupted copy of `record` and the changes, in order; later ones may rewrite earlier."""
    result = corrupt_record(record, context, config, rng)
    return result.record, result.applied


def corrupt_record(
    record: Record, context: Context, config: CorruptionConfig, rng: random.Random
) -> Corruption:
    """`corrupt`, also saying how many errors were drawn (attempts, no-ops included)."""
    out = dict(record)
    applied: list[AppliedError] = []
    wanted = error_count(config, rng)
    categories = [c for c, w in config.category_weights.items() if w > 0]
    weights = [config.category_weights[c] for c in categories]
    by_category: dict[str, list[ErrorType]] = {
        c: [e for e in ERROR_TYPES if e.category == c] for c in categories
    }
    # Without redraws every drawn error is one attempt, whether or not it changes anything.
    max_draws = wanted * MAX_DRAWS_PER_ERROR if config.redraw_no_ops else wanted
    draws = done = 0
    while done < wanted and draws < max_draws:
        draws += 1
        category = rng.choices(categories, weights)[0]
        options = by_category[category]
        error = rng.choices(options, [e.weight for e in options])[0]
        changes = error.apply(out, rng.choice(error.fields), rng, context)
        if not changes:
            continue
        done += 1
        for change in changes:
            out[change.field] = change.after
            applied.append(
                AppliedError(done, change.field, error.name, change.before, change.after)
            )
    return Corruption(out, applied, wanted)
