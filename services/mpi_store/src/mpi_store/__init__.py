"""Golden-record store: models, repositories, migrations and the record contract."""
