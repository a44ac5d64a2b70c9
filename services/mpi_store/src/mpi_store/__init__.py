"""Golden-record store: models, repositories, migrations, and the shared core every service
reads (`mpi_store.domain`: the record contract, link vocabulary, errors, guards, survivorship)."""
