"""Linker features and blocking keys."""

from __future__ import annotations

import datetime as dt

from mpi_linker import normalise
from mpi_linker.features import blocking_keys, features


def test_features_normalise_every_field_and_keep_nulls():
    row = features(
        {
            "given_name": "Bill",
            "family_name": "Smith-Jones",
            "birth_date": dt.date(1980, 1, 2),
            "sex": "unknown",
            "ssn": "123-45-6789",
            "phone": "+1 (413) 555-0123",
            "postcode": "2115",
            "address_line1": "12 Elm Street Apt. #4",
            "city": None,
        }
    )

    assert row["given_name"] == "bill"
    assert "william" in row["given_aliases"]
    assert row["family_name"] == "smith jones"
    assert row["birth_date"] == "1980-01-02"
    assert row["sex"] is None
    assert row["ssn"] is None
    assert row["phone"] == "4135550123"
    assert row["postcode"] == "02115"
    assert row["address"] == "12 elm st apt 4"
    assert row["city"] is None


def test_nickname_and_full_name_share_a_blocking_key():
    bill = blocking_keys(features({"given_name": "Bill", "birth_date": "1980-01-02"}))
    william = blocking_keys(features({"given_name": "William", "birth_date": "1980-01-02"}))

    assert set(bill) & set(william)


def test_no_keys_without_usable_fields():
    assert blocking_keys(features({"given_name": "Ann"})) == []


def test_street_words_are_canonical_on_word_boundaries():
    assert normalise.street("1 Stanton Avenue") == "1 stanton ave"
    assert normalise.street("5 Court Street") == "5 ct st"
    assert normalise.street("5 Streeter Rd") == "5 streeter rd"


def test_phonetic_codes():
    assert normalise.phonetic("smith") == normalise.phonetic("smyth")
    assert normalise.phonetic(None) is None
