"""The API reference page at /docs: every path of the spec, escaped, and nothing from another site."""

from __future__ import annotations

import html
import re

from spaceqa import openapi
from spaceqa.security import CONTENT_SECURITY_POLICY


def test_the_reference_lists_every_path_and_method_of_the_spec(tiny_client):
    spec = tiny_client.get("/openapi.json").get_json()
    response = tiny_client.get("/docs")
    assert response.status_code == 200 and response.mimetype == "text/html"
    page = html.unescape(response.get_data(as_text=True))
    for path, item in spec["paths"].items():
        assert f"<code>{path}</code>" in page, path
        for method, op in item.items():
            assert f'id="{op["operationId"]}"' in page and op["summary"] in page, (method, path)
    for name in spec["components"]["schemas"]:
        assert f'id="schema-{name}"' in page


def test_nothing_is_loaded_from_another_site_and_nothing_inline_breaks_the_policy(tiny_client):
    response = tiny_client.get("/docs")
    page = response.get_data(as_text=True)
    assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    for url in re.findall(r'(?:src|href)\s*=\s*["\']([^"\']*)', page, re.IGNORECASE):
        assert not re.match(r"(?:[a-z]+:)?//", url, re.IGNORECASE), url  # own origin only: paths and #anchors
    assert "<script" not in page.lower() and "style=" not in page.lower() and "<style" not in page.lower()
    stylesheets = re.findall(r'<link rel="stylesheet" href="([^"]+)"', page)
    assert stylesheets == ["/docs/style.css"]
    css = tiny_client.get(stylesheets[0])
    assert css.status_code == 200 and css.mimetype == "text/css"


def test_markup_in_the_spec_is_escaped(tiny_client, monkeypatch):
    real = openapi.spec

    def hostile(**limits):
        spec = real(**limits)
        spec["info"]["description"] = "Try `<b>bold</b>` & <script>alert(1)</script>"
        spec["paths"]["/healthz"]["get"]["summary"] = '<img src="https://evil.example/x.png" onerror="alert(2)">'
        spec["components"]["schemas"]["Health"]["description"] = "</pre><script>alert(3)</script>"
        return spec

    monkeypatch.setattr(openapi, "spec", hostile)
    page = tiny_client.get("/docs").get_data(as_text=True)
    assert "<script" not in page and "<img" not in page and "<b>" not in page
    assert "<code>&lt;b&gt;bold&lt;/b&gt;</code> &amp; &lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;img src=&#34;https://evil.example/x.png&#34;" in page
    assert "&lt;/pre&gt;&lt;script&gt;alert(3)" in page
