"""What the project takes from Splink's internals (`splink.internals`), in this module only.

Splink's public modules do not export these: the base types of comparisons and blocking rules
(for annotations), its exception, and the real-time `compare_records` (which the scorer
benchmark sets beside the compiled scorer). Internals move between releases, so Splink is
pinned to `SPLINK_VERSION` and `tests/linker/test_splink_adapter.py` fails on any other
version, and on an import of `splink.internals` anywhere else: an upgrade starts here.
"""

from splink.internals.blocking_rule_creator import BlockingRuleCreator
from splink.internals.comparison_creator import ComparisonCreator
from splink.internals.exceptions import SplinkException
from splink.internals.realtime import compare_records

SPLINK_VERSION = "5.0.0"

__all__ = [
    "SPLINK_VERSION",
    "BlockingRuleCreator",
    "ComparisonCreator",
    "SplinkException",
    "compare_records",
]
