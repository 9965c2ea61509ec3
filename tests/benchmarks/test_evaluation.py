"""``make bench-eval`` runs the worker's own slice code: a small run fills, evaluates twice and reports."""

from __future__ import annotations

import re

import pytest

from benchmarks import evaluation


def test_a_small_run_evaluates_every_member_then_passes_over_the_untouched(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("BENCH_EVAL_MEMBERS", "400")
    monkeypatch.setenv("BENCH_EVAL_TOUCHED", "0.25")
    assert evaluation.main() == 0
    printed = capsys.readouterr().out
    runs = re.findall(r": ([\d,]+) members in .*?; ([\d,]+) evaluated, ([\d,]+) passed over .*?, ([\d,]+) outputs",
                      printed)
    assert len(runs) == 2, printed
    (first, evaluated, passed, outputs), (_, _, later_passed, _) = [[int(n.replace(",", "")) for n in r] for r in runs]
    assert first == 400 and evaluated + passed == 400 and evaluated > 0 and outputs > 0
    assert 0 < later_passed < 400  # marks of the untouched members hold; the touched ones are looked at again
