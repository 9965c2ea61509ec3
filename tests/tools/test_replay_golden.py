"""The offline replay of the demo stream gives byte-identical outputs release after release."""

from __future__ import annotations

from tests.tools.golden_replay import digest

#: outputs and digest of the demo stream's replay (tests/tools/golden_replay.py).  Change them only
#: with a change that is meant to change what the engine emits, and say so in its commit.
OUTPUTS = 16670
DIGEST = "f268ebf71795255a39c98aba7b8532798dec3a4b75a0c13b5d1987c733f1a8d3"


def test_the_demo_stream_replays_to_the_recorded_outputs() -> None:
    assert digest() == (OUTPUTS, DIGEST)
