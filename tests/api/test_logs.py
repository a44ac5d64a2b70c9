"""uvicorn's access log lines lose their query string; other records are left alone."""

from __future__ import annotations

import logging

from mpi_api.logs import ACCESS_LOG, QueryStringFilter

ACCESS_FORMAT = '%s - "%s %s HTTP/%s" %d'


def _record(msg, args):
    return logging.LogRecord(ACCESS_LOG, logging.INFO, __file__, 1, msg, args, None)


def test_the_query_string_is_dropped_and_the_path_kept():
    record = _record(
        ACCESS_FORMAT,
        ("127.0.0.1:5000", "GET", "/fhir/Patient?identifier=urn:x|417-83-2965", "1.1", 200),
    )

    assert QueryStringFilter().filter(record)
    assert record.getMessage() == (
        '127.0.0.1:5000 - "GET /fhir/Patient?[query hidden] HTTP/1.1" 200'
    )


def test_a_line_without_a_query_or_another_record_is_unchanged():
    plain = _record(ACCESS_FORMAT, ("127.0.0.1:5000", "GET", "/readyz", "1.1", 200))
    other = _record("linker answered %d (attempt %d)", (503, 1))

    for record in (plain, other):
        before = record.getMessage()
        assert QueryStringFilter().filter(record)
        assert record.getMessage() == before
