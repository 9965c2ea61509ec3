"""The offline replay of the demo stream gives byte-identical outputs release after release."""

from __future__ import annotations

from tests.tools.golden_replay import digest

#: outputs and digest of the demo stream's replay (tests/tools/golden_replay.py).  Change them only
#: with a change that is meant to change what the engine emits, and say so in its commit.
OUTPUTS = 26246
DIGEST = "1f6e6257b733873a3f1fe39ec1cad6b9c53acf04443230438fec510f6b4d4205"


def test_the_demo_stream_replays_to_the_recorded_outputs() -> None:
    assert digest() == (OUTPUTS, DIGEST)
