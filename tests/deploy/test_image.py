"""The image: Dockerfile (python:3.11-slim, installed with pip, a non-root runtime
running the worker) and .dockerignore (keeps out what the build must not see)."""

from __future__ import annotations

import json
import re

from tests.deploy.fixtures import DOCKERFILE, DOCKERIGNORE


def _dockerfile_runtime_stage() -> list[str]:
    lines, buf = [], ""
    for line in DOCKERFILE.read_text().splitlines():
        if line.lstrip().startswith("#"):
            continue
        buf += line.rstrip("\\").strip() + " "
        if not line.rstrip().endswith("\\"):
            if buf.strip():
                lines.append(buf.strip())
            buf = ""
    stages = [i for i, ln in enumerate(lines) if ln.upper().startswith("FROM ")]
    return lines, lines[stages[-1]:]


def test_dockerfile():
    lines, runtime = _dockerfile_runtime_stage()
    args = dict(
        re.match(r"ARG (\w+)=(\S+)", ln).groups() for ln in lines if re.match(r"ARG \w+=\S+", ln)
    )
    for ln in (x for x in lines if x.upper().startswith("FROM ")):
        image = re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), ""), ln.split()[1])
        assert image == "python:3.11-slim", ln
    assert any(re.search(r"pip install (--\S+ )*\.(\s|$)", ln) for ln in lines), "no `pip install .`"
    user = [ln.split()[1] for ln in runtime if ln.upper().startswith("USER ")]
    assert user and user[-1] not in {"root", "0"}, "runtime image runs as root"
    assert any(ln.startswith("VOLUME") and "/data" in ln for ln in runtime)
    assert any(re.fullmatch(r"EXPOSE 6066(/tcp)?", ln) for ln in runtime)
    cmd = [ln for ln in runtime if ln.startswith("CMD")][-1]
    assert json.loads(cmd[len("CMD"):].strip()) == ["memberflow", "worker"]
    assert any("config/" in ln and "/app/config" in ln for ln in runtime if ln.startswith("COPY")), (
        "rules are not copied to MEMBERFLOW_RULES_DIR"
    )


def test_dockerignore():
    patterns = {
        ln.strip().rstrip("/") for ln in DOCKERIGNORE.read_text().splitlines()
        if ln.strip() and not ln.startswith("#")
    }
    for required in (".venv", ".git", "data", "**/__pycache__", ".pytest_cache"):
        assert required in patterns, required
    for needed in ("config", "pyproject.toml", "memberflow", "engine", "agents", "tables",
                   "models", "streams.py"):
        assert needed not in patterns, f"{needed} is needed by the image build"
