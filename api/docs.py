"""The OpenAPI document (``/api/schema/``) and its reading page (``/api/docs/``).

The page is Redoc served from the ``drf-spectacular-sidecar`` package's own files when
that package is installed (never from a CDN: installations may have no internet). Without
it, the page is a plain reference rendered here from the same document."""

from __future__ import annotations

import json
import mimetypes
from importlib import util as importlib_util
from pathlib import Path

from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.template import Context, Engine
from django.views.decorators.http import require_GET
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.views import SpectacularAPIView
from rest_framework.permissions import AllowAny

# The files of the sidecar package the page may load, by the name used in its URL.
SIDECAR_ASSETS = {"redoc.standalone.js": "redoc/bundles/redoc.standalone.js"}


class SchemaView(SpectacularAPIView):
    """The document itself: public, like the API's documentation."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes: list = []


def _sidecar_root() -> Path | None:
    spec = importlib_util.find_spec("drf_spectacular_sidecar")
    if spec is None or not spec.submodule_search_locations:
        return None
    root = Path(next(iter(spec.submodule_search_locations))) / "static" / "drf_spectacular_sidecar"
    return root if root.is_dir() else None


REDOC_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ title }}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><redoc spec-url="{{ schema_url }}"></redoc>
<script src="{{ script_url }}"></script></body></html>"""

REFERENCE_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ info.title }}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:15px/1.5 system-ui,sans-serif;max-width:960px;margin:2rem auto;padding:0 1rem;color:#222}
code,pre{font:13px ui-monospace,monospace;background:#f4f4f4;padding:.1rem .3rem}
pre{padding:.6rem;overflow:auto}.op{border-top:1px solid #ddd;padding:.6rem 0}
.m{display:inline-block;min-width:4.5rem;font-weight:700}h2{margin-top:2rem}
</style></head><body>
<h1>{{ info.title }} <small>{{ info.version }}</small></h1>
<p>{{ info.description|linebreaksbr }}</p>
<p>The machine-readable document: <a href="{{ schema_url }}">{{ schema_url }}</a>
(<a href="{{ schema_url }}?format=json">JSON</a>). Authenticate with
<code>Authorization: Bearer tsk_…</code>.</p>
{% for tag, operations in groups %}<h2>{{ tag }}</h2>
{% for op in operations %}<div class="op"><span class="m">{{ op.method }}</span>
<code>{{ op.path }}</code> <small>({{ op.operation_id }})</small>
{% if op.summary %}<div><b>{{ op.summary }}</b></div>{% endif %}
{% if op.description %}<div>{{ op.description|linebreaksbr }}</div>{% endif %}
{% if op.parameters %}<div>Parameters: {% for p in op.parameters %}<code>{{ p.name }}</code>
({{ p.in }}){% if not forloop.last %}, {% endif %}{% endfor %}</div>{% endif %}
{% if op.request %}<div>Body: <code>{{ op.request }}</code></div>{% endif %}
<div>Responses: {% for code in op.responses %}<code>{{ code }}</code> {% endfor %}</div>
</div>{% endfor %}{% endfor %}
<h2>Schemas</h2>{% for name, schema in schemas %}<h3 id="{{ name }}">{{ name }}</h3>
<pre>{{ schema }}</pre>{% endfor %}
</body></html>"""


def _reference(request: HttpRequest, schema_url: str) -> str:
    # api.urls imports this module's views; the URL list is read at call time.
    from api.urls import schema_patterns

    document = SchemaGenerator(patterns=schema_patterns).get_schema(request=None, public=True)
    groups: dict[str, list[dict]] = {}
    for path, methods in document.get("paths", {}).items():
        for method, operation in methods.items():
            body = operation.get("requestBody", {}).get("content", {})
            request_schema = next(iter(body.values()), {}).get("schema", {}).get("$ref", "")
            groups.setdefault((operation.get("tags") or ["Other"])[0], []).append(
                {
                    "method": method.upper(),
                    "path": path,
                    "operation_id": operation.get("operationId", ""),
                    "summary": operation.get("summary", ""),
                    "description": operation.get("description", ""),
                    "parameters": operation.get("parameters", []),
                    "request": request_schema.rsplit("/", 1)[-1],
                    "responses": sorted(operation.get("responses", {})),
                }
            )
    schemas = sorted(
        (name, json.dumps(schema, indent=2))
        for name, schema in document.get("components", {}).get("schemas", {}).items()
    )
    template = Engine(builtins=["django.template.defaultfilters"]).from_string(REFERENCE_PAGE)
    return template.render(
        Context(
            {
                "info": document.get("info", {}),
                "schema_url": schema_url,
                "groups": sorted(groups.items()),
                "schemas": schemas,
            }
        )
    )


@require_GET
def docs_page(request: HttpRequest) -> HttpResponse:
    schema_url = "/api/schema/"
    if _sidecar_root() is not None:
        template = Engine().from_string(REDOC_PAGE)
        html = template.render(
            Context(
                {
                    "title": "API reference",
                    "schema_url": schema_url,
                    "script_url": "/api/docs/assets/redoc.standalone.js",
                }
            )
        )
    else:
        html = _reference(request, schema_url)
    return HttpResponse(
        html,
        headers={
            "Content-Security-Policy": "default-src 'self' blob:; "
            "style-src 'self' 'unsafe-inline'; "
            "worker-src 'self' blob:"
        },
    )


@require_GET
def docs_asset(request: HttpRequest, name: str) -> FileResponse:
    root = _sidecar_root()
    relative = SIDECAR_ASSETS.get(name)
    if root is None or relative is None or not (root / relative).is_file():
        raise Http404("No such asset.")
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    response = FileResponse((root / relative).open("rb"), content_type=content_type)
    response["Cache-Control"] = "public, max-age=86400"
    return response
