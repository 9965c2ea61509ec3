"""``memberflow rules check`` (memberflow.cli): exit code 1 naming file, field and
why for a bad rules file, 0 for the shipped rules."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from config.settings import SHIPPED_RULES_DIR

ROOT = Path(__file__).resolve().parents[2]


def test_rules_check_command_exit_codes(tmp_path: Path) -> None:
    bad = tmp_path / "typo.yaml"
    bad.write_text("tiers: {tiers: [{id: NORMAL}]}\ntime_zone: Mars/Olympus\n")
    run = [sys.executable, "-m", "memberflow.cli", "rules", "check"]
    bad_run = subprocess.run([*run, str(bad)], capture_output=True, text=True, cwd=ROOT)
    assert bad_run.returncode == 1
    assert "time_zone" in bad_run.stderr and "unknown time zone" in bad_run.stderr and str(bad) in bad_run.stderr
    good = subprocess.run([*run, str(SHIPPED_RULES_DIR)], capture_output=True, text=True, cwd=ROOT)
    assert good.returncode == 0, good.stderr
