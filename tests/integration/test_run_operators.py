"""``make run``'s operators' side against a real broker: the projector and the admin service start
on a fresh SQLite read model, the demo token it prints opens the member search, and both stop."""

from __future__ import annotations

import json
import urllib.request
from contextlib import ExitStack

from memberflow.dev.operators import start_operators


def test_the_demo_token_opens_the_admin_service_and_everything_stops(cluster, tmp_path):
    (tmp_path / "readmodel.sqlite").write_text("left over from an earlier run")
    with ExitStack() as stack:
        ops = start_operators(stack, cluster.env("run"), tmp_path, fresh=True)
        request = urllib.request.Request(f"{ops.admin_url}/tenants/default/members",
                                         headers={"Authorization": f"Bearer {ops.token}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200 and "items" in json.loads(response.read())
    assert all(proc.poll() is not None for proc in ops.procs)
