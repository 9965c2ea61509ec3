"""The offline replay of the demo stream gives byte-identical outputs release after release."""

from __future__ import annotations

from tests.tools.golden_replay import digest

#: outputs and digest of the demo stream's replay (tests/tools/golden_replay.py).  Change them only
#: with a change that is meant to change what the engine emits, and say so in its commit.
OUTPUTS = 28249
DIGEST = "f46d23e6fde4111fa7abe612f4a07e95f79aeb43388c5f0713efeab04512a38f"


def test_the_demo_stream_replays_to_the_recorded_outputs() -> None:
    assert digest() == (OUTPUTS, DIGEST)
