"""The ``devices`` table: one DeviceState per (tenant, device), written only by the device agent.

Keyed like ``device-activity`` (``tenant/device``), so its changelog partition is
the device's partition on that topic: every report of one device meets its one
state, whichever member's partition it came from.  Values are the state's JSON.

Bump ``TABLE_VERSION`` when the meaning of stored state changes.
"""

from __future__ import annotations

import faust

from models.devices import DEVICE_JSON_DECODER, DEVICE_JSON_ENCODER, DeviceState
from tables.members import raw_table

TABLE_VERSION = 1
TABLE_NAME = f"devices-v{TABLE_VERSION}"


def encode(state: DeviceState) -> bytes:
    return DEVICE_JSON_ENCODER.encode(state)


def decode(raw: bytes) -> DeviceState:
    return DEVICE_JSON_DECODER.decode(raw)


def declare(app: faust.App, partitions: int) -> faust.Table:
    return raw_table(app, TABLE_NAME, partitions, "device state (members registered and logged in on it)")
