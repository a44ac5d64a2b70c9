"""One guard subject per record, in the linker's normalised forms, whoever builds it."""

from __future__ import annotations

import datetime as dt

from mpi_linker.features import RECORD_KEY_SEPARATOR
from mpi_linker.guard_subjects import guard_subject, guard_subject_of_row
from mpi_store.domain.guards import pair_guards
from mpi_store.models import SourceRecord


def _stored(source, given, born, address, phone=None):
    return SourceRecord(
        source=source,
        norm_given_name=given,
        norm_family_name="okafor",
        birth_date=born,
        address_line1=address,
        phone=phone,
        identifiers=[],
    )


def test_a_stored_record_s_phone_and_address_are_normalised_as_the_linker_does():
    subject = guard_subject(
        _stored("FAC1", "chidi", None, "3 Elm Street, Apt. #4", "+1 (617) 555-0100")
    )

    assert (subject.address, subject.phone) == ("3 elm st apt 4", "6175550100")


def test_a_household_spelt_two_ways_is_guarded():
    parent = _stored("FAC1", "chidi", dt.date(1961, 7, 19), "3 Elm Street")
    child = _stored("FAC2", "amaka", dt.date(1990, 4, 2), "3 Elm St.")

    assert pair_guards(guard_subject(parent), guard_subject(child)) == {"possible_household_member"}


def test_a_feature_row_names_its_source_from_the_record_key():
    row = {
        "unique_id": f"FAC3{RECORD_KEY_SEPARATOR}MRN-1",
        "given_name": "amaka",
        "family_name": "okafor",
        "birth_date": "1990-04-02",
        "address": "3 elm st",
    }

    subject = guard_subject_of_row(row)

    assert (subject.source, subject.birth_date, subject.identifiers) == ("FAC3", "1990-04-02", ())
