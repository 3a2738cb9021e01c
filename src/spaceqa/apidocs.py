"""The API reference at ``GET /docs``: ``/openapi.json`` as a page, rendered on the server.

Nothing is loaded from another site and nothing runs in the browser: the page is HTML built by
Jinja with autoescaping (every text of the spec is escaped; `code` spans become <code> only after
escaping) and one stylesheet from our own origin, so it passes the app's Content-Security-Policy
(no inline script or style) as it is.
"""

from __future__ import annotations

import json
import re

from flask import Blueprint, Response, render_template_string
from markupsafe import Markup, escape

from . import openapi

bp = Blueprint("apidocs", __name__)

METHOD_ORDER = ("get", "post", "put", "patch", "delete")
_CODE_SPAN = re.compile(r"`([^`]+)`")

STYLESHEET = """\
body { font: 15px/1.5 system-ui, sans-serif; margin: 0 auto; max-width: 60rem; padding: 1rem 1.25rem 3rem; color: #1d232a; background: #fff; }
h1 small { font-weight: normal; color: #5b6570; font-size: 1rem; }
code, pre { font: 13px/1.4 ui-monospace, SFMono-Regular, Menlo, monospace; }
pre { background: #f4f6f8; padding: .6rem .8rem; overflow-x: auto; border-radius: 4px; }
nav ul { list-style: none; padding: 0; columns: 2; }
section.operation { border-top: 1px solid #d8dde2; margin-top: 1.5rem; }
.method { display: inline-block; min-width: 4.2rem; font-weight: 600; text-transform: uppercase; }
.method-get { color: #1a6b35; } .method-post { color: #1d4f91; } .method-delete { color: #a12a2a; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0; }
th, td { text-align: left; vertical-align: top; border-bottom: 1px solid #e3e7eb; padding: .3rem .5rem; }
.auth { color: #7a4b00; }
@media (prefers-color-scheme: dark) {
  body { background: #15191d; color: #dde3e8; } pre { background: #222a31; } h1 small { color: #9aa5ae; }
  th, td { border-color: #2e373f; } section.operation { border-color: #2e373f; } a { color: #8ab4f8; }
  .method-get { color: #6fcf8f; } .method-post { color: #8ab4f8; } .method-delete { color: #f28b82; } .auth { color: #f0b75e; }
}
"""

PAGE = """\
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ info.title }} API reference</title>
<link rel="stylesheet" href="{{ url_for('apidocs.stylesheet') }}">
</head>
<body>
<header>
<h1>{{ info.title }} API <small>{{ info.version }}</small></h1>
{% if info.summary %}<p>{{ info.summary | text }}</p>{% endif %}
{% if info.description %}<p>{{ info.description | text }}</p>{% endif %}
<p>The machine-readable description: <a href="{{ url_for('openapi.openapi_json') }}">openapi.json</a> (OpenAPI {{ version }}).</p>
</header>
<nav><h2>Operations</h2><ul>
{% for op in operations %}<li><a href="#{{ op.anchor }}"><span class="method method-{{ op.method }}">{{ op.method }}</span> {{ op.path }}</a></li>
{% endfor %}</ul></nav>
<main>
{% for op in operations %}
<section class="operation" id="{{ op.anchor }}">
<h2><span class="method method-{{ op.method }}">{{ op.method }}</span> <code>{{ op.path }}</code></h2>
{% if op.summary %}<p><strong>{{ op.summary | text }}</strong></p>{% endif %}
{% if op.description %}<p>{{ op.description | text }}</p>{% endif %}
{% if op.security %}<p class="auth">Needs the admin token: <code>Authorization: Bearer &lt;token&gt;</code>.</p>{% endif %}
{% if op.parameters %}<h3>Parameters</h3>
<table><tr><th>name</th><th>in</th><th>required</th><th>schema</th><th>description</th></tr>
{% for p in op.parameters %}<tr><td><code>{{ p.name }}</code></td><td>{{ p.in }}</td><td>{{ "yes" if p.required else "no" }}</td><td>{{ p.schema | schema }}</td><td>{{ (p.description or "") | text }}</td></tr>
{% endfor %}</table>{% endif %}
{% if op.body %}<h3>Request body{% if op.body.required %} (required){% endif %}</h3>
{% if op.body.description %}<p>{{ op.body.description | text }}</p>{% endif %}
{% for media, content in op.body.content.items() %}<p><code>{{ media }}</code></p>{{ content.schema | schema }}
{% endfor %}{% endif %}
<h3>Responses</h3>
<table><tr><th>status</th><th>description</th><th>body</th></tr>
{% for status, response in op.responses %}<tr><td>{{ status }}</td><td>{{ (response.description or "") | text }}</td><td>{% for media, content in (response.content or {}).items() %}<code>{{ media }}</code> {{ content.schema | schema }}{% endfor %}</td></tr>
{% endfor %}</table>
</section>
{% endfor %}
<section class="operation"><h2>Schemas</h2>
{% for name, body in schemas %}<h3 id="schema-{{ name }}">{{ name }}</h3>
{% if body.description %}<p>{{ body.description | text }}</p>{% endif %}<pre>{{ body | tojson_pretty }}</pre>
{% endfor %}</section>
</main>
</body>
</html>
"""


def init_app(app) -> None:
    """Serve the reference at ``GET /docs`` and its stylesheet at ``GET /docs/style.css``."""
    app.register_blueprint(bp)
    app.jinja_env.filters["text"] = _text
    app.jinja_env.filters["schema"] = _schema
    app.jinja_env.filters["tojson_pretty"] = lambda value: json.dumps(value, indent=2, ensure_ascii=False)  # autoescaped in <pre>


@bp.get("/docs")
def page():
    spec = openapi.current_spec()
    operations = []
    for path, item in spec["paths"].items():
        for method in METHOD_ORDER:
            if method in item:
                op = item[method]
                operations.append(
                    {
                        "path": path,
                        "method": method,
                        "anchor": op.get("operationId") or f"{method}-{path}",
                        "summary": op.get("summary", ""),
                        "description": op.get("description", ""),
                        "security": bool(op.get("security")),
                        "parameters": op.get("parameters", []),
                        "body": op.get("requestBody"),
                        "responses": [(status, _resolve(spec, response)) for status, response in op["responses"].items()],
                    }
                )
    schemas = sorted(spec["components"]["schemas"].items())
    return render_template_string(PAGE, info=spec["info"], version=spec["openapi"], operations=operations, schemas=schemas)


@bp.get("/docs/style.css")
def stylesheet():
    return Response(STYLESHEET, mimetype="text/css")


def _resolve(spec: dict, node: dict) -> dict:
    """A ``#/components/...`` reference replaced by what it names (responses are shown in place)."""
    while "$ref" in node and node["$ref"].startswith("#/components/responses/"):
        node = spec["components"]["responses"][node["$ref"].rsplit("/", 1)[1]]
    return node


def _text(value: str) -> Markup:
    """Escaped text, with Markdown's `code` spans as <code> (added after escaping, so never markup from the spec)."""
    return Markup(_CODE_SPAN.sub(r"<code>\1</code>", str(escape(value))))


def _schema(schema: dict | None) -> Markup:
    """A reference as a link to its schema below; any other schema as escaped JSON."""
    if not schema:
        return Markup("")
    ref = schema.get("$ref", "")
    if ref.startswith("#/components/schemas/") and len(schema) == 1:
        name = ref.rsplit("/", 1)[1]
        return Markup('<a href="#schema-{0}">{0}</a>').format(name)
    return Markup("<pre>{}</pre>").format(json.dumps(schema, indent=2, ensure_ascii=False))
