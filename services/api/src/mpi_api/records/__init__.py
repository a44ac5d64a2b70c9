"""Facility records: ingest, link, read."""
