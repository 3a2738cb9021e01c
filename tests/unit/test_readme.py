"""README.md as a new user reads it: what it tells them to run, they can run."""

import re

from conftest import PROJECT

README = (PROJECT / "README.md").read_text(encoding="utf-8")


def section(title: str) -> str:
    """The text of the README's ``## title`` section, up to the next ``## ``."""
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start : end if end != -1 else None]


USER_SECTIONS = ["Quick start", "Adding documents", "Web chat", "HTTP API", "Command line", "Configuration"]


def test_the_sections_a_user_follows_never_need_the_development_data():
    for title in USER_SECTIONS:
        assert "../shared" not in section(title), title


def test_every_question_file_the_user_sections_evaluate_is_in_the_repository():
    for title in USER_SECTIONS:
        for path in re.findall(r"spaceqa eval (questions/\S+)", section(title)):
            assert (PROJECT / path).is_file(), path
