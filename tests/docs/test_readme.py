"""The README and docs/ stay true to the code they describe.

Each check is a function of the text that returns what is wrong with it; the
tests run it on the real files (nothing may be wrong) and on a spoilt copy
(the check must notice), so no check can pass vacuously.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from config.settings import Settings, override_variable, settings_table
from config.topics import Topic, topic_table, topology_diagram

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
CONFIGURATION = ROOT / "docs" / "configuration.md"
DOCS = ROOT / "docs"
MAX_LINES = 280

VARIABLE = re.compile(r"MEMBERFLOW_[A-Z0-9_]+(?:<NAME>)?")
TOPIC_PLACEHOLDER = "MEMBERFLOW_TOPIC_<NAME>"
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
MAKE = re.compile(r"(?<![\w-])make ([a-z][a-z-]*)")


def readme() -> str:
    return README.read_text(encoding="utf-8")


def doc_pages() -> dict[Path, str]:
    return {path: path.read_text(encoding="utf-8") for path in sorted(DOCS.glob("*.md"))}


# -- the checks ----------------------------------------------------------------


def missing_renderings(text: str) -> list[str]:
    """The registry renderings the text does not carry verbatim (the diagram in a code block)."""
    wanted = {
        "topic_table()": topic_table(),
        "topology_diagram() in a code block": f"```\n{topology_diagram()}\n```",
    }
    return [name for name, rendering in wanted.items() if rendering not in text]


def too_long(text: str, limit: int = MAX_LINES) -> list[str]:
    lines = len(text.splitlines())
    return [f"{lines} lines > {limit}"] if lines > limit else []


def session_mentions(text: str) -> list[str]:
    return [line for line in text.splitlines() if "session" in line.lower()]


def known_variables() -> set[str]:
    settings = {f"MEMBERFLOW_{name.upper()}" for name, field in Settings.model_fields.items() if not field.exclude}
    return settings | {override_variable(t) for t in Topic} | {TOPIC_PLACEHOLDER}


def unknown_variables(text: str) -> list[str]:
    return sorted({v for v in VARIABLE.findall(text) if v not in known_variables()})


def _slug(heading: str) -> str:
    """GitHub's anchor of a Markdown heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(text: str) -> set[str]:
    return {_slug(m) for m in re.findall(r"^#{1,6} (.+)$", text, re.M)}


def broken_links(text: str, base: Path, prefix: str = "") -> list[str]:
    """Relative links (starting with ``prefix``) whose file, or heading anchor, does not exist."""
    broken = []
    for target in LINK.findall(text):
        if re.match(r"^[a-z]+:", target) or target.startswith("#") or not target.startswith(prefix):
            continue
        path, _, anchor = target.partition("#")
        file = (base / path).resolve()
        if not file.is_file():
            broken.append(target)
        elif anchor and file.suffix == ".md" and anchor not in anchors(file.read_text(encoding="utf-8")):
            broken.append(target)
    return broken


def first_make_commands(text: str, count: int = 2) -> list[str]:
    return [f"make {target}" for target in MAKE.findall(text)[:count]]


# -- on the real files ----------------------------------------------------------


def test_readme_carries_the_registry_renderings_verbatim() -> None:
    assert missing_renderings(readme()) == []


def test_the_configuration_page_carries_the_settings_table_verbatim() -> None:
    page = CONFIGURATION.read_text(encoding="utf-8")
    assert settings_table() in page
    stale = page.replace("`MEMBERFLOW_PARTITIONS` | `4`", "`MEMBERFLOW_PARTITIONS` | `8`")
    assert stale != page and settings_table() not in stale


def test_readme_is_at_most_280_lines() -> None:
    assert too_long(readme()) == []


def test_readme_never_says_session() -> None:
    assert session_mentions(readme()) == []


@pytest.mark.parametrize("name", ["README.md", *(f"docs/{p.name}" for p in sorted(DOCS.glob("*.md")))])
def test_every_memberflow_variable_named_is_a_setting_or_a_topic_override(name: str) -> None:
    assert unknown_variables((ROOT / name).read_text(encoding="utf-8")) == []


def test_readme_links_to_docs_point_at_existing_files() -> None:
    text = readme()
    assert any(t.startswith("docs/") for t in LINK.findall(text)), "the README links to no page in docs/"
    assert broken_links(text, ROOT, prefix="docs/") == []


def test_links_between_docs_pages_hold() -> None:
    for path, text in doc_pages().items():
        assert broken_links(text, path.parent) == [], path.name


def test_the_first_two_make_commands_shown_are_run_then_test() -> None:
    assert first_make_commands(readme()) == ["make run", "make test"]


def test_the_docs_pages_exist() -> None:
    assert {p.name for p in doc_pages()} >= {"rules.md", "operations.md", "performance.md", "configuration.md"}


# -- each check notices a spoilt README -----------------------------------------


def test_a_missing_or_stale_rendering_is_noticed() -> None:
    good = f"{topic_table()}\n\n```\n{topology_diagram()}\n```\n"
    assert missing_renderings(good) == []
    assert missing_renderings(good.replace(topic_table(), "")) == ["topic_table()"]
    assert missing_renderings(good.replace("| internal |", "| input |", 1)) == ["topic_table()"]
    assert missing_renderings(good.replace("orders ", "order ")) == ["topology_diagram() in a code block"]
    assert missing_renderings(good.replace(f"```\n{topology_diagram()}", topology_diagram())) == [
        "topology_diagram() in a code block"
    ]


def test_a_long_readme_is_noticed() -> None:
    assert too_long("line\n" * (MAX_LINES + 1)) != []
    assert too_long("line\n" * MAX_LINES) == []


def test_a_session_is_noticed() -> None:
    assert session_mentions("# memberflow\n\nMeasured in the third Session.\n") != []
    assert session_mentions("# memberflow\n\nMeasured in one run.\n") == []


def test_an_unknown_variable_is_noticed() -> None:
    assert unknown_variables("`MEMBERFLOW_RUN_SECONDS` and `MEMBERFLOW_TOPIC_ORDERZ`") == [
        "MEMBERFLOW_RUN_SECONDS", "MEMBERFLOW_TOPIC_ORDERZ"
    ]
    assert unknown_variables("`MEMBERFLOW_TOPIC_ORDERS`, `MEMBERFLOW_TOPIC_<NAME>`, `MEMBERFLOW_APP_ID`") == []


def test_a_broken_link_is_noticed() -> None:
    assert broken_links("[gone](docs/nowhere.md)", ROOT, prefix="docs/") == ["docs/nowhere.md"]
    assert broken_links("[bad anchor](docs/rules.md#no-such-heading)", ROOT, prefix="docs/") == [
        "docs/rules.md#no-such-heading"
    ]
    assert broken_links("[fine](docs/rules.md#tiers) [web](https://example.com)", ROOT, prefix="docs/") == []


def test_a_make_command_shown_first_is_noticed() -> None:
    shown = "```sh\nmake run\nmake test\n```\n\nThen `make bench`."
    assert first_make_commands(shown) == ["make run", "make test"]
    assert first_make_commands("Run `make bench` first.\n" + shown) == ["make bench", "make run"]
    assert first_make_commands(shown.replace("make test", "make test-fast")) == ["make run", "make test-fast"]
