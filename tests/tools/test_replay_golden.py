"""The offline replay of the demo stream gives byte-identical outputs release after release."""

from __future__ import annotations

from tests.tools.golden_replay import digest

#: outputs and digest of the demo stream's replay (tests/tools/golden_replay.py).  Change them only
#: with a change that is meant to change what the engine emits, and say so in its commit.
OUTPUTS = 28514
DIGEST = "0064f93a03d5cd9c9e4dc83ac0c8083755ebf74f1f9db9176525838c776cec44"


def test_the_demo_stream_replays_to_the_recorded_outputs() -> None:
    assert digest() == (OUTPUTS, DIGEST)
