"""LangServe's request bodies, checked before LangServe reads them.

LangServe 0.3.3 answers some malformed bodies with a server error: a body that is not UTF-8,
`"config": null`, `"inputs": null` or a number, JSON nested deeper than the parser can follow.
This dependency parses the body the way LangServe does (Starlette's `Request.json`, whose
result LangServe then reuses) and answers 422 in FastAPI's validation-error shape, saying what
is wrong, for anything the published schema does not allow. A batch runs its inputs at the
same time, so it may hold no more inputs than the caller may run at once.
"""

import json
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from security.limits import PayloadTooLarge


class _Body(BaseModel):
    # stream_log and stream_events add their own filters; LangServe checks those.
    model_config = ConfigDict(extra="allow")

    kwargs: dict[str, Any] = Field(default_factory=dict)


class InvokeBody(_Body):
    """/invoke, /stream, /stream_log and /stream_events: one input."""

    input: Any
    config: dict[str, Any] = Field(default_factory=dict)


class BatchBody(_Body):
    """/batch: a list of inputs and one config for all, or one config per input."""

    inputs: list[Any]
    config: dict[str, Any] | list[dict[str, Any]] = Field(default_factory=dict)


BODIES: dict[str, type[_Body]] = {
    "invoke": InvokeBody,
    "stream": InvokeBody,
    "stream_log": InvokeBody,
    "stream_events": InvokeBody,
    "batch": BatchBody,
}


async def check_langserve_body(request: Request) -> None:
    """A dependency for the routes of `add_routes`: GETs and other endpoints pass untouched."""
    model = BODIES.get(request.url.path.rsplit("/", 1)[-1])
    if request.method != "POST" or model is None:
        return
    body = _validate(model, await _parsed_json(request))
    if isinstance(body, BatchBody):
        limit = request.app.state.guards.runs.max_per_user
        if len(body.inputs) > limit:
            raise PayloadTooLarge("the batch", limit, "inputs (MAX_CONCURRENT_RUNS_PER_USER)")


async def _parsed_json(request: Request) -> Any:
    try:
        return await request.json()
    except UnicodeDecodeError:
        raise _invalid("json_invalid", "the body is not UTF-8 text") from None
    except RecursionError:
        raise _invalid("json_invalid", "the JSON body is nested too deeply") from None
    except json.JSONDecodeError as error:
        raise _invalid("json_invalid", f"the body is not valid JSON: {error}") from None


def _invalid(kind: str, message: str) -> RequestValidationError:
    return RequestValidationError([{"type": kind, "loc": ["body"], "msg": message, "input": None}])


def _validate(model: type[_Body], data: Any) -> _Body:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        errors = error.errors(include_url=False, include_input=False, include_context=False)
        raise RequestValidationError([{**e, "loc": ["body", *e["loc"]]} for e in errors]) from None
