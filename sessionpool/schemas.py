"""Wire models of the dynamic-sessions API: request bodies in, both generations' shapes out."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from sessionpool.files import FileInfo
from sessionpool.session import Outcome

GENERATION_1 = ("2024-02-02-preview", "2024-08-02-preview")
GENERATION_2 = ("2024-10-02-preview", "2025-02-02-preview", "2025-10-02-preview")
SESSION_API = ("2025-02-02-preview", "2025-10-02-preview")
API_VERSIONS = GENERATION_1 + GENERATION_2


class ExecutionRequest(BaseModel):
    """Bodies of `code/execute` (in `properties`) and `executions` (flat): only `code` is needed."""

    model_config = ConfigDict(extra="ignore")

    code: str
    code_input_type: Literal["inline"] = Field("inline", alias="codeInputType")
    execution_type: Literal["synchronous", "asynchronous"] = Field(
        "synchronous", alias="executionType"
    )
    timeout_in_seconds: float | None = Field(None, alias="timeoutInSeconds", gt=0)
    output_streams_max_length: int | None = Field(None, alias="outputStreamsMaxLength", ge=0)

    @field_validator("code_input_type", "execution_type", mode="before")
    @classmethod
    def _any_case(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def gen1_result(outcome: Outcome) -> object:
    if outcome.images:
        return outcome.images[0]
    return outcome.value if outcome.has_value else ""


def gen1_execution(outcome: Outcome) -> dict:
    return {
        "$id": "1",
        "properties": {
            "$id": "2",
            "status": "Success" if outcome.succeeded else "Failure",
            "stdout": outcome.stdout,
            "stderr": outcome.stderr,
            "result": gen1_result(outcome),
            "executionTimeInMilliseconds": outcome.duration_ms,
        },
    }


def gen2_execution(
    execution_id: str, identifier: str, execution_type: str, outcome: Outcome | None
) -> dict:
    body = {
        "id": execution_id,
        "identifier": identifier,
        "executionType": execution_type.capitalize(),
        "status": "Running",
        "result": None,
    }
    if outcome is not None:
        body["status"] = "Succeeded" if outcome.succeeded else "Failed"
        body["result"] = {
            "stdout": outcome.stdout,
            "stderr": outcome.stderr,
            "executionResult": gen1_result(outcome) if outcome.succeeded else None,
            "executionTimeInMilliseconds": outcome.duration_ms,
        }
    return body


def gen1_files(infos: list[FileInfo]) -> dict:
    value = []
    for index, info in enumerate(infos):
        properties = {
            "$id": str(3 + 2 * index),
            "filename": info.name,
            "size": info.size,
            "lastModifiedTime": _iso(info.modified),
        }
        value.append({"$id": str(2 + 2 * index), "properties": properties})
    return {"$id": "1", "value": value}


def gen2_file(info: FileInfo) -> dict:
    return {
        "name": info.name,
        "type": "File",
        "contentType": info.content_type,
        "sizeInBytes": info.size,
        "lastModifiedAt": _iso(info.modified),
    }


def gen2_files(infos: list[FileInfo]) -> dict:
    return {"value": [gen2_file(info) for info in infos], "nextLink": None}


def error_body(code: str, message: str) -> dict:
    return {"error": {"code": code, "message": message}}
