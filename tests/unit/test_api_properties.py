"""Property: ``POST /ask`` answers any body at all with JSON, and never with a 5xx."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import TINY_DOCUMENTS, write_corpus
from fakes import HashEmbedder, fake_reader

# Any code point, lone surrogates included (json.dumps writes them as "\ud800"), with the
# troublesome kinds drawn often: uniformly, a surrogate turns up in about 1 text in 500.
ANY_CHAR = (
    st.characters(categories=None, exclude_categories=())
    | st.characters(categories=["Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp", "Mn", "So"])
    | st.sampled_from("\x00\x1b\ud800\udfff\u200d\u200f\u202e\ufeff\U0001f680 aZ?")
)
# Joined lists, not st.text(): text() never yields a surrogate, whatever its alphabet.
ANY_TEXT = st.lists(ANY_CHAR, max_size=40).map("".join)
QUESTION_LIKE = st.lists(ANY_CHAR, min_size=1, max_size=80).map("".join) | st.sampled_from(
    ["Who walked on the Moon?", "When was Mir launched?", "How long did Polyakov stay?", "it", "  "]
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | ANY_TEXT,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(ANY_TEXT, children, max_size=4),
    max_leaves=12,
)
# Mostly well-shaped requests with odd values, so many examples get past validation to the engine.
ASK_BODIES = st.fixed_dictionaries(
    {"question": QUESTION_LIKE | JSON_VALUES},
    optional={
        "history": st.lists(QUESTION_LIKE, max_size=4) | JSON_VALUES,
        "top_k": st.integers(min_value=-2, max_value=12) | JSON_VALUES,
    },
)
# Modest counts keep the suite fast; no deadline, since tests never assert on time.
PROPERTY = settings(max_examples=150, deadline=None, database=None)


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    # Module scope: one app for all examples (a function-scoped fixture would be shared anyway).
    from spaceqa import create_app

    root = tmp_path_factory.mktemp("properties")
    app = create_app({"corpus_dir": write_corpus(root / "corpus", TINY_DOCUMENTS), "index_dir": root / "index"}, embedder=HashEmbedder(), reader=fake_reader())
    app.config["TESTING"] = False  # errors go through the error handlers, as in production
    app.config["PROPAGATE_EXCEPTIONS"] = False
    return app.test_client()


def check(response) -> None:
    assert response.status_code < 500, response.get_data(as_text=True)
    assert response.is_json
    body = response.get_json()
    if response.status_code == 200:
        assert set(body) == {"question", "understood_as", "answer", "answers", "took_ms"}
    else:
        assert 400 <= response.status_code < 500
        assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}


@PROPERTY
@given(body=ASK_BODIES | JSON_VALUES)
def test_any_json_value_gets_a_json_answer_or_a_4xx(client, body):
    check(client.post("/ask", data=json.dumps(body), content_type="application/json"))


@settings(max_examples=60, deadline=None, database=None)
@given(raw=st.binary(max_size=200))
def test_any_bytes_get_a_json_answer_or_a_4xx(client, raw):
    check(client.post("/ask", data=raw, content_type="application/json"))
