"""The trained model rendered for Spark (bulk re-linking at scale) predicts as on DuckDB."""

from __future__ import annotations

from pathlib import Path

import pytest

from mpi_linker.features import FEATURE_COLUMNS
from mpi_linker.frames import frame, read_records
from mpi_linker.model.artifact import load
from mpi_linker.model.dialects import for_dialect
from mpi_linker.model.train import predict_pairs

FIXTURE = Path(__file__).parents[2] / "data" / "fixture"


@pytest.fixture(scope="module")
def spark(tmp_path_factory):
    from pyspark.sql import SparkSession
    from splink.backends.spark import similarity_jar_location

    session = (
        SparkSession.builder.master("local[2]")
        .config("spark.jars", similarity_jar_location())
        .config("spark.ui.enabled", "false")
        .getOrCreate()
    )
    session.sparkContext.setCheckpointDir(str(tmp_path_factory.mktemp("checkpoints")))
    yield session
    session.stop()


@pytest.mark.spark
# py4j leaves its gateway sockets for the garbage collector.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.filterwarnings("ignore::ResourceWarning")
def test_spark_predictions_equal_duckdb(spark):
    from splink import Linker
    from splink.backends.spark import SparkAPI

    artifact = load()
    table = frame(read_records(FIXTURE))
    schema = ", ".join(
        [
            "unique_id string",
            *(
                f"{c} array<string>" if c == "given_aliases" else f"{c} string"
                for c in FEATURE_COLUMNS
            ),
            "blocking_keys array<string>",
        ]
    )
    frame_on_spark = SparkAPI(spark_session=spark).register(
        spark.createDataFrame(table.to_pylist(), schema=schema)
    )

    on_spark = Linker(frame_on_spark, for_dialect(artifact.splink, "spark"))
    spark_pairs = on_spark.inference.predict().as_record_list()
    duckdb_pairs = {
        (p["unique_id_l"], p["unique_id_r"]): p["match_weight"]
        for p in predict_pairs(table, artifact.splink)
    }

    assert len(spark_pairs) == len(duckdb_pairs) > 100
    for pair in spark_pairs:
        assert pair["match_weight"] == pytest.approx(
            duckdb_pairs[(pair["unique_id_l"], pair["unique_id_r"])], abs=1e-9
        )


def test_a_changed_definition_is_refused():
    model = load().splink
    changed = {**model, "comparisons": [dict(c) for c in model["comparisons"]]}
    changed["comparisons"][0] = {
        **changed["comparisons"][0],
        "comparison_levels": [
            {**level, "label_for_charts": "renamed"}
            for level in changed["comparisons"][0]["comparison_levels"]
        ],
    }

    with pytest.raises(ValueError, match="changed since training"):
        for_dialect(changed, "spark")
