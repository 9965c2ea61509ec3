"""Offline tools over the engine: the replay of recorded events and the JSON Schema export."""
