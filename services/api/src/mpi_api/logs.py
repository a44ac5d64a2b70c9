"""Logging that keeps demographic values out: uvicorn's access log without query strings."""

from __future__ import annotations

import logging


class QueryStringFilter(logging.Filter):
    """Drop the query string from uvicorn's access log lines.

    A query can carry a demographic value (`GET /fhir/Patient?identifier=<SSN system>|<SSN>`),
    and uvicorn writes the path with its query (`'%s - "%s %s HTTP/%s" %d'`: client, method,
    path, version, status) however the server was started. The path alone names only ids.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str):
            path, mark, _ = args[2].partition("?")
            if mark:
                record.args = (args[0], args[1], f"{path}?[query hidden]", *args[3:])
        return True


ACCESS_LOG = "uvicorn.access"
_QUERY_STRINGS = QueryStringFilter()


def keep_query_strings_out() -> None:
    """Install the filter on uvicorn's access logger (once: `addFilter` skips a repeat)."""
    logging.getLogger(ACCESS_LOG).addFilter(_QUERY_STRINGS)
