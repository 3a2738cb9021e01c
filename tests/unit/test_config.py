"""Settings: defaults, then SPACEQA_* variables, then explicit values; all documented."""

from __future__ import annotations

from pathlib import Path

import pytest

from spaceqa.config import Settings

README = Path(__file__).resolve().parents[2] / "README.md"


def test_defaults():
    settings = Settings.load(environ={})
    assert settings.corpus_dir == Path("corpus") and settings.index_dir == Path("index")
    assert (settings.host, settings.port) == ("127.0.0.1", 8000)


def test_environment_overrides_defaults_and_explicit_values_override_both():
    environ = {"SPACEQA_CORPUS": "/data/docs", "SPACEQA_PORT": "9000", "SPACEQA_MIN_SCORE": "0.7"}
    settings = Settings.load(environ=environ)
    assert settings.corpus_dir == Path("/data/docs") and settings.port == 9000 and settings.min_score == 0.7
    settings = Settings.load({"port": 9100, "corpus_dir": None}, environ=environ)
    assert settings.port == 9100 and settings.corpus_dir == Path("/data/docs")


def test_a_bad_value_names_the_variable():
    with pytest.raises(ValueError, match="SPACEQA_PORT"):
        Settings.load(environ={"SPACEQA_PORT": "eighty"})


@pytest.mark.parametrize(
    "environ, message",
    [
        ({"SPACEQA_PORT": "eighty"}, "SPACEQA_PORT must be an integer, got 'eighty'"),
        ({"SPACEQA_MIN_SCORE": "2"}, "SPACEQA_MIN_SCORE is 2.0; it must be between 0.0 and 1.0"),
        ({"SPACEQA_MIN_SCORE": "nan"}, "SPACEQA_MIN_SCORE is nan"),
        ({"SPACEQA_THREADS": "0"}, "SPACEQA_THREADS is 0; it must be at least 1"),
        ({"SPACEQA_CHUNK_TARGET_WORDS": "300"}, "SPACEQA_CHUNK_TARGET_WORDS, _MAX_WORDS and _OVERLAP_WORDS do not fit together"),
    ],
)
def test_a_value_out_of_range_is_refused_when_the_settings_load(environ, message):
    with pytest.raises(ValueError) as refused:
        Settings.load(environ=environ)
    assert str(refused.value).startswith(message)


def test_unknown_settings_are_refused():
    with pytest.raises(ValueError, match="colour"):
        Settings.load({"colour": "blue"}, environ={})


def test_chunk_params_come_from_the_settings():
    params = Settings.load({"chunk_target_words": 100, "chunk_max_words": 150, "chunk_overlap_words": 20}, environ={}).chunk_params
    assert (params.target_words, params.max_words, params.overlap_words) == (100, 150, 20)


@pytest.mark.parametrize("name, env, default, help_text", Settings.documented())
def test_every_setting_is_documented_in_the_readme(name, env, default, help_text):
    assert help_text
    assert f"`{env}`" in README.read_text(), f"README.md does not document {env}"
