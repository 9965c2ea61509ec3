"""The offline replay of the demo stream gives byte-identical outputs release after release."""

from __future__ import annotations

from tests.tools.golden_replay import digest

#: outputs and digest of the demo stream's replay (tests/tools/golden_replay.py).  Change them only
#: with a change that is meant to change what the engine emits, and say so in its commit.
OUTPUTS = 28501
DIGEST = "4d19a6cb73062e1b7a25f1eba33100ec9703645c6685b15fa1678e1a4472bae1"


def test_the_demo_stream_replays_to_the_recorded_outputs() -> None:
    assert digest() == (OUTPUTS, DIGEST)
