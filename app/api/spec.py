"""Each endpoint of /api/v1 declared once: request models, responses and security feed both the checks and the
OpenAPI 3.1 document (spectree over pydantic v2 models, which live in app/api/models.py).

How to declare an endpoint
--------------------------
Put `@endpoint(...)` right under the route (and under the rate limit, if any). The view reads the checked
values with `body()` and `query()`, and returns a plain dict (or list) that matches its declared response::

    from app.api import bp
    from app.api.models import ApiModel, Contact
    from app.api.spec import body, endpoint

    class NoteInput(ApiModel):
        text: Text = Field(max_length=200)

    @bp.route("/notes", methods=["POST"])
    @endpoint(body=NoteInput, ok={201: Contact}, errors=(404,), auth="bearer", tags=("staff",))
    def notes_create():
        \"\"\"Record a note (the docstring's first line is the summary).\"\"\"
        note = body()                         # a NoteInput, already checked
        return {"id": 1, ...}, 201            # checked against Contact before it leaves

- `body` (JSON object), `query` (query string) and `headers` are pydantic models; a bad value answers 422
  `{"error", "errors": {field: [message]}}` in the caller's language (see `messages` below).
  `optional_body=True` lets an empty body count as `{}`. `max_bytes` (a number or a function) overrides the
  body's cap (JSON: API_JSON_MAX_BYTES); a `form=` (multipart) body is read within it before it is checked,
  and `too_large()` gives the answer when it is over.
- `first(**path_values)` runs before the body is read or checked (who may see the thing, does it exist);
  what it returns, if not None, is the answer. The consumer API finds the case by its access code this way,
  so a wrong code is the same 404 whatever the body.
- `ok` maps the success status codes to their response models; `errors` lists the error statuses the view
  can answer (they are documented with the `ErrorBody` model). 422 is always added; `auth="bearer"` adds
  401 and 403, `auth="code"` the `X-Access-Code` header.
- Every JSON body passes the body guard first (app/api/body.py): size cap while reading (413), nesting
  depth (400), JSON object (400); a NUL in the query string or the path answers 400.
- The document is served at /api/v1/openapi.json; tests/test_api_openapi.py checks that every rule under
  /api/v1 is declared.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any

from flask import current_app, request
from flask_babel import gettext as _
from pydantic import BaseModel, ValidationError
from spectree import Response, SecurityScheme, SecuritySchemeData, SpecTree
from werkzeug.exceptions import RequestEntityTooLarge

from app.api import body as guard
from app.api import bp
from app.api.models import BadQuery, ErrorBody
from app.errors import error_response

PREFIX = "/api/v1"

STATUS_TEXT = {
    400: "Malformed request: the body is not a JSON object, nests too deep, or a value holds NUL",
    401: "No valid bearer token",
    403: "The token's role may not do this",
    404: "Not found (for the consumer API: unknown case number or wrong access code, the same answer)",
    409: "Not allowed in the case's state, or a stale version",
    413: "Too large: the body, a file, or the case's total of files",
    415: "File type not allowed (checked by content)",
    422: "Validation failed; `errors` names each field",
    429: "Too many requests",
    503: "Unavailable: the materials' storage, or (GET /ready) a check this node needs; `errors` names it",
    507: "The server's storage is full; nothing was stored",
}

# "code": the consumer's X-Access-Code, or instead the bearer token of a verified phone (app/api/consumer.py).
SECURITY = {"public": [], "bearer": {"bearer": []}, "code": [{"accessCode": []}, {"bearer": []}]}


def _messages(exc: ValidationError, model: type[BaseModel] | None) -> dict[str, list[str]]:
    """Pydantic's errors as our translated messages, one list per top-level field."""
    out: dict[str, list[str]] = {}
    for err in exc.errors():
        loc = [str(part) for part in err["loc"]]
        field = loc[0] if loc else "body"
        text = message(err, model)
        if len(loc) > 1:
            text = f"{'.'.join(loc[1:])}: {text}"
        if text not in out.setdefault(field, []):
            out[field].append(text)
    return out


def message(err: Any, model: type[BaseModel] | None = None) -> str:
    """One pydantic error as a message in the caller's language."""
    kind = err["type"]
    ctx = err.get("ctx") or {}
    if kind == "domain":  # raised by our own validators with a message already translated
        return str(ctx.get("message") or err["msg"])
    if kind == "missing":
        return _("此项为必填项。")
    if kind in ("string_too_long", "too_long"):
        return _("内容过长（最多%(n)s字）。", n=ctx.get("max_length"))
    if kind.startswith("bool"):
        return _("应为 true 或 false。")
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return _("应为整数。")
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        low, high = _bounds(err, model)
        return _("应为 %(low)s 到 %(high)s 之间的整数。", low=low, high=high)
    if kind in ("literal_error", "enum"):
        return _("请选择有效的选项。")
    if kind.startswith("date_") or kind == "date_type":
        return _("日期格式应为 YYYY-MM-DD。")
    if kind.startswith("datetime"):
        return _("时间格式应为 ISO 8601，例如 2026-11-20T09:30:00+08:00。")
    if kind.startswith("string") or kind == "str_type":
        return _("应为文本。")
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return _("请求体应为 JSON 对象。")
    return _("请检查填写的内容。")


def _bounds(err: Any, model: type[BaseModel] | None) -> tuple[Any, Any]:
    """The minimum and maximum of the field an error is about, as its schema declares them."""
    schema: dict[str, Any] = {}
    if model is not None and err["loc"]:
        schema = model.model_json_schema()["properties"].get(str(err["loc"][0]), {})
    return schema.get("minimum", "?"), schema.get("maximum", "?")


@bp.errorhandler(BadQuery)
def _bad_query(exc: BadQuery):
    """422 with a message per bad value."""
    return error_response(422, _("请检查填写的内容。"), exc.errors)


def _before(req, resp, err, instance, adapter) -> None:
    """A request that fails its declaration: 422 with our messages (spectree's own list is not sent)."""
    if err is not None:
        raise BadQuery(_messages(err, _MODELS.get(err.title)))


api = SpecTree(
    "flask",
    mode="strict",
    annotations=False,
    title="Telecom appeals centre API",
    version="1.0.0",
    openapi_version="3.1.0",
    validation_error_status=422,
    validation_error_model=ErrorBody,
    before=_before,
    naming_strategy=lambda model: model.__name__,
    nested_naming_strategy=lambda parent, child: child,
    security_schemes=[
        SecurityScheme(name="bearer", data=SecuritySchemeData(type="http", scheme="bearer")),
        SecurityScheme(
            name="accessCode", data=SecuritySchemeData(type="apiKey", field_in="header", name="X-Access-Code")
        ),
    ],
)

_MODELS: dict[str, type[BaseModel]] = {}


def endpoint(
    *,
    ok: dict[int, type[BaseModel] | Any | None],
    body: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    headers: type[BaseModel] | None = None,
    form: type[BaseModel] | None = None,
    errors: Iterable[int] = (),
    auth: str = "public",
    tags: Iterable[str] = (),
    optional_body: bool = False,
    max_bytes: int | Callable[[], int] | None = None,
    too_large: Callable[[], Any] | None = None,
    first: Callable[..., Any] | None = None,
) -> Callable:
    """Declare an endpoint: what it takes, what it answers, who may call it (see the module's docstring)."""
    statuses = set(errors) | {422}
    if auth == "bearer":
        statuses |= {401, 403}
    if body is not None:
        statuses |= {400, 413}
    codes: dict[str, Any] = {f"HTTP_{status}": model for status, model in ok.items()}
    for status in sorted(statuses):
        codes[f"HTTP_{status}"] = (ErrorBody, STATUS_TEXT[status])
    for model in (body, query, headers, form):
        if model is not None:
            _MODELS[model.__name__] = model

    def decorate(view: Callable) -> Callable:
        checked = api.validate(
            json=body,
            query=query,
            headers=headers,
            form=form,
            resp=Response(**codes),
            tags=tuple(tags),
            security=SECURITY[auth],
        )(view)

        @functools.wraps(checked)
        def guarded(*args: Any, **kwargs: Any):
            guard.refuse_nul(kwargs)
            if first is not None and (answer := first(**kwargs)) is not None:
                return answer
            cap = max_bytes() if callable(max_bytes) else max_bytes
            if body is not None:
                guard.json_object(cap or current_app.config["API_JSON_MAX_BYTES"], optional=optional_body)
            if form is not None and not guard.form_within(cap):
                if too_large is None:
                    raise RequestEntityTooLarge()
                return too_large()
            return checked(*args, **kwargs)

        return guarded

    return decorate


def body() -> Any:
    """The request's checked JSON body (an instance of the endpoint's `body` model)."""
    return request.context.json


def query() -> Any:
    """The request's checked query string (an instance of the endpoint's `query` model)."""
    return request.context.query


def headers() -> Any:
    """The request's checked headers (an instance of the endpoint's `headers` model)."""
    return request.context.headers


def document() -> dict[str, Any]:
    """The OpenAPI 3.1 document, its paths relative to the /api/v1 server."""
    spec = api.spec
    paths = {path.removeprefix(PREFIX) or "/": item for path, item in spec["paths"].items() if path.startswith(PREFIX)}
    return {**spec, "servers": [{"url": PREFIX}], "paths": paths}
