"""The core every service reads, importing nothing of the store's machinery (no SQLAlchemy,
no web framework, no HTTP client; import-linter holds it so): the record contract
(`contracts`), the link vocabulary and tiers (`enums`), the one error tree (`errors`), the
guards over a record's demographics (`guards`, with `names` for nicknames), the evidence a link
needs beyond names (`evidence`) and survivorship (`survivorship`)."""
