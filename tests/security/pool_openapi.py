"""An OpenAPI 3.0 description of the dynamic-sessions API as the local pool serves it.

The pool publishes no schema of its own (Azure publishes none for the data plane either);
this one follows /work/shared/reference/dynamic-sessions-api.md, and fuzzing holds the pool
to it. The bearer key is sent by the test (its refusal is tested on its own). Identifiers
that create sessions come from FUZZ_IDENTIFIERS, so a run starts a bounded number of them.
"""

G1 = ["2024-02-02-preview", "2024-08-02-preview"]
G2 = ["2024-10-02-preview", "2025-02-02-preview", "2025-10-02-preview"]
SESSIONS = ["2025-02-02-preview", "2025-10-02-preview"]
LATEST = ["2025-10-02-preview"]
FUZZ_IDENTIFIERS = ["fuzz-session-1", "fuzz-session-2"]

_STRING, _INT, _NUMBER = {"type": "string"}, {"type": "integer"}, {"type": "number"}
_IMAGE = {
    "type": "object",
    "required": ["type", "format", "base64_data"],
    "properties": {"type": _STRING, "format": _STRING, "base64_data": _STRING},
}
_RESULT = {"nullable": True, "anyOf": [_STRING, _NUMBER, {"type": "boolean"}, _IMAGE]}
_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": _STRING, "message": _STRING},
        }
    },
}
_GEN1_EXECUTION = {
    "type": "object",
    "required": ["properties"],
    "properties": {
        "properties": {
            "type": "object",
            "required": ["status", "stdout", "stderr", "result", "executionTimeInMilliseconds"],
            "properties": {
                "status": {"enum": ["Success", "Failure"]},
                "stdout": _STRING,
                "stderr": _STRING,
                "result": _RESULT,
                "executionTimeInMilliseconds": _INT,
            },
        }
    },
}
_GEN2_EXECUTION = {
    "type": "object",
    "required": ["id", "identifier", "executionType", "status", "result"],
    "properties": {
        "id": _STRING,
        "identifier": _STRING,
        "executionType": {"enum": ["Synchronous", "Asynchronous"]},
        "status": {"enum": ["Running", "Succeeded", "Failed"]},
        "result": {
            "type": "object",
            "nullable": True,
            "required": ["stdout", "stderr", "executionResult", "executionTimeInMilliseconds"],
            "properties": {
                "stdout": _STRING,
                "stderr": _STRING,
                "executionResult": _RESULT,
                "executionTimeInMilliseconds": _INT,
            },
        },
    },
}
_GEN1_FILES = {
    "type": "object",
    "required": ["value"],
    "properties": {
        "value": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["properties"],
                "properties": {
                    "properties": {
                        "type": "object",
                        "required": ["filename", "size", "lastModifiedTime"],
                        "properties": {
                            "filename": _STRING,
                            "size": _INT,
                            "lastModifiedTime": _STRING,
                        },
                    }
                },
            },
        }
    },
}
_GEN2_FILE = {
    "type": "object",
    "required": ["name", "type", "contentType", "sizeInBytes", "lastModifiedAt"],
    "properties": {
        "name": _STRING,
        # From 2025-10-02-preview on, a listing holds folders too, each with its `directory`.
        "type": {"enum": ["File", "directory"]},
        "contentType": _STRING,
        "sizeInBytes": _INT,
        "lastModifiedAt": _STRING,
        "directory": _STRING,
    },
}
_GEN2_FILES = {
    "type": "object",
    "required": ["value", "nextLink"],
    "properties": {"value": {"type": "array", "items": _GEN2_FILE}, "nextLink": {"nullable": True}},
}
_SESSION = {
    "type": "object",
    "required": ["identifier", "createdAt", "lastAccessedAt", "expireAt", "etag"],
    "properties": {
        k: _STRING for k in ("identifier", "createdAt", "lastAccessedAt", "expireAt", "etag")
    },
}


def _json(schema: dict) -> dict:
    return {"content": {"application/json": {"schema": schema}}}


def _errors(*statuses: int) -> dict:
    return {str(s): {"description": "an Azure error body", **_json(_ERROR)} for s in statuses}


def _params(versions: list[str], identifier: dict | None, folder: bool = False) -> list[dict]:
    params = [
        {"name": "api-version", "in": "query", "required": True, "schema": {"enum": versions}},
    ]
    if identifier is not None:
        params.append({"name": "identifier", "in": "query", "required": True, "schema": identifier})
    if folder:
        params.append(_FOLDER)
    return params


# Reading never creates a session, so any well-formed identifier may be tried there.
ANY_IDENTIFIER = {"type": "string", "pattern": "^[a-zA-Z0-9._~-]{4,128}$"}
FUZZ_IDENTIFIER = {"enum": FUZZ_IDENTIFIERS}
_NAME = {
    "name": "name",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "minLength": 1},
}
# The folder below /mnt/data that a file route acts in (any text: the pool refuses with 400
# what is not a folder below /mnt/data).
_FOLDER = {"name": "path", "in": "query", "required": False, "schema": {"type": "string"}}
_EXECUTION_BODY = {
    "type": "object",
    "required": ["code"],
    "properties": {
        "code": {"type": "string", "maxLength": 200},
        "codeInputType": {"enum": ["inline", "Inline"]},
        "executionType": {"enum": ["synchronous", "Synchronous"]},
        "timeoutInSeconds": {"type": "number", "minimum": 1, "maximum": 5},
    },
}
_UPLOAD_BODY = {
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file"],
                "properties": {"file": {"type": "string", "format": "binary", "maxLength": 4096}},
            }
        }
    }
}


def _op(versions, identifier, responses: dict, folder: bool = False, **extra) -> dict:
    return {"parameters": _params(versions, identifier, folder), "responses": responses, **extra}


def pool_openapi() -> dict:
    ok = "the answer"
    paths = {
        "/code/execute": {
            "post": _op(
                G1,
                FUZZ_IDENTIFIER,
                {
                    "200": {"description": ok, **_json(_GEN1_EXECUTION)},
                    **_errors(400, 413, 429, 503),
                },
                requestBody={
                    "required": True,
                    **_json(
                        {
                            "type": "object",
                            "required": ["properties"],
                            "properties": {"properties": _EXECUTION_BODY},
                        }
                    ),
                },
            )
        },
        "/executions": {
            "post": _op(
                G2,
                FUZZ_IDENTIFIER,
                {
                    "200": {"description": ok, **_json(_GEN2_EXECUTION)},
                    "202": {"description": ok, **_json(_GEN2_EXECUTION)},
                    **_errors(400, 413, 429, 503),
                },
                requestBody={"required": True, **_json(_EXECUTION_BODY)},
            )
        },
        "/executions/{id}": {
            "get": {
                **_op(
                    G2,
                    ANY_IDENTIFIER,
                    {"200": {"description": ok, **_json(_GEN2_EXECUTION)}, **_errors(400, 404)},
                ),
                "parameters": [*_params(G2, ANY_IDENTIFIER), {**_NAME, "name": "id"}],
            }
        },
        "/files/upload": {
            "post": _op(
                G1,
                FUZZ_IDENTIFIER,
                {"200": {"description": ok, **_json(_GEN1_FILES)}, **_errors(400, 413, 429, 503)},
                folder=True,
                requestBody={"required": True, **_UPLOAD_BODY},
            )
        },
        "/files": {
            "get": _op(
                G1 + G2,
                ANY_IDENTIFIER,
                {
                    "200": {"description": ok, **_json({"anyOf": [_GEN1_FILES, _GEN2_FILES]})},
                    **_errors(400),
                },
                folder=True,
            ),
            "post": _op(
                G2,
                FUZZ_IDENTIFIER,
                {
                    "200": {"description": ok, **_json(_GEN2_FILE)},
                    **_errors(400, 409, 413, 429, 503),
                },
                folder=True,
                requestBody={"required": True, **_UPLOAD_BODY},
            ),
        },
        "/files/content/{name}": {
            "get": {
                **_op(
                    G1, ANY_IDENTIFIER, {"200": {"description": "the bytes"}, **_errors(400, 404)}
                ),
                "parameters": [*_params(G1, ANY_IDENTIFIER, folder=True), _NAME],
            }
        },
        "/files/{name}": {
            "get": {
                **_op(
                    G2,
                    ANY_IDENTIFIER,
                    {"200": {"description": ok, **_json(_GEN2_FILE)}, **_errors(400, 404)},
                ),
                "parameters": [*_params(G2, ANY_IDENTIFIER, folder=True), _NAME],
            },
            "delete": {
                **_op(G2, ANY_IDENTIFIER, {"204": {"description": "deleted"}, **_errors(400, 404)}),
                "parameters": [*_params(G2, ANY_IDENTIFIER, folder=True), _NAME],
            },
        },
        "/session": {
            "get": _op(
                SESSIONS,
                ANY_IDENTIFIER,
                {"200": {"description": ok, **_json(_SESSION)}, **_errors(400, 404)},
            ),
            "delete": _op(
                SESSIONS, ANY_IDENTIFIER, {"204": {"description": "deleted"}, **_errors(400)}
            ),
        },
        "/session/interrupt": {
            "post": _op(
                G1 + G2,
                ANY_IDENTIFIER,
                {
                    "200": {
                        "description": ok,
                        **_json(
                            {
                                "type": "object",
                                "required": ["interrupted"],
                                "properties": {"interrupted": {"type": "boolean"}},
                            }
                        ),
                    },
                    **_errors(400),
                },
            )
        },
        "/session/outputs": {
            "get": _op(
                G1 + G2,
                ANY_IDENTIFIER,
                {
                    "200": {
                        "description": "every Jupyter output of the session's last call",
                        **_json(
                            {
                                "type": "object",
                                "required": ["identifier", "status", "outputs"],
                                "properties": {
                                    "identifier": _STRING,
                                    "status": {
                                        "nullable": True,
                                        "enum": ["Succeeded", "Failed"],
                                    },
                                    "outputs": {"type": "array", "items": {"type": "object"}},
                                },
                            }
                        ),
                    },
                    **_errors(400, 404),
                },
            )
        },
        "/.management/stopSession": {
            "post": _op(
                LATEST,
                ANY_IDENTIFIER,
                {"200": {"description": "stopped", **_json(_STRING)}, **_errors(400, 404)},
            )
        },
        "/metadata": {
            "get": _op(
                SESSIONS,
                None,
                {"200": {"description": ok, **_json({"type": "object"})}, **_errors(400)},
            )
        },
        "/listSessions": {
            "get": _op(
                SESSIONS,
                None,
                {
                    "200": {
                        "description": ok,
                        **_json(
                            {
                                "type": "object",
                                "required": ["sessions"],
                                "properties": {"sessions": {"type": "array", "items": _SESSION}},
                            }
                        ),
                    },
                    **_errors(400),
                },
            )
        },
    }
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Dynamic sessions data plane (local pool)",
            "version": "2025-10-02-preview",
        },
        "paths": paths,
    }
