"""The suite does not depend on the caller's environment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HEALTH_TESTS = Path(__file__).parent / "api" / "test_health.py"


def test_a_dev_key_in_the_shell_does_not_change_the_tests():
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")},
        "MPI_DEV_API_KEY": "some-key-123456",
        "MPI_API_ENVIRONMENT": "production",
    }
    run = subprocess.run(
        [sys.executable, "-m", "pytest", str(HEALTH_TESTS), "-q", "-p", "no:cacheprovider"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert run.returncode == 0, run.stdout[-3000:]
