"""Choose the chat model from the settings: Azure OpenAI, OpenAI-compatible, or offline."""

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import aiohttp
import openai
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from langchain_core.language_models import BaseChatModel
from langchain_openai import AzureChatOpenAI, ChatOpenAI
from pydantic import SecretStr

from azure_auth import AZURE_OPENAI_SCOPE, entra_token_provider
from errors import ModelUnavailable, error_response
from llms.completions import send_as_built
from llms.offline import OfflineChatModel
from settings import Settings

__all__ = [
    "OfflineChatModel",
    "build_chat_model",
    "close_chat_model",
    "describe_model",
    "install_model_error_handler",
    "model_error",
    "model_errors",
    "model_name",
]
log = logging.getLogger(__name__)


def describe_model(settings: Settings) -> str:
    """Which kind of model the settings select: "azure", "openai" or "offline"."""
    if settings.azure_openai_endpoint:
        return "azure"
    if settings.openai_base_url or settings.openai_api_key:
        return "openai"
    return "offline"


def model_name(settings: Settings) -> str:
    """The model as a person would name it: the deployment or model, and where it runs."""
    kind = describe_model(settings)
    if kind == "azure":
        return f"{settings.azure_openai_deployment} (Azure OpenAI)"
    if kind == "openai":
        return f"{settings.openai_model} ({settings.openai_base_url or 'OpenAI'})"
    return "offline model (no language model configured: arithmetic and the clock only)"


def build_chat_model(settings: Settings) -> BaseChatModel:
    """The chat model the settings select; no network call happens here."""
    kind = describe_model(settings)
    # The offline mode is a warning: nothing answers in words until a model is configured.
    log.log(
        logging.WARNING if kind == "offline" else logging.INFO,
        "chat model: %s",
        model_name(settings),
    )
    if kind == "azure":
        return _build_azure(settings)
    if kind == "openai":
        return _build_openai(settings)
    return OfflineChatModel()


async def close_chat_model(llm: BaseChatModel) -> None:
    """Close the model's HTTP client (its connections), if it has one."""
    client = getattr(llm, "root_async_client", None)
    if client is not None:
        await client.close()


def _client_options(settings: Settings) -> dict:
    return {
        # The OpenAI client retries timeouts, 429 and 5xx with exponential backoff itself.
        "timeout": settings.llm_timeout_seconds,
        "max_retries": settings.llm_max_retries,
        # The SDK's aiohttp transport (`openai[aiohttp]`) in place of its default httpx one:
        # a request and its streamed answer cost ~1.4 ms less CPU per direct turn (two model
        # calls) and ~3 ms per python turn (README, Performance). Same requests, timeouts,
        # retries and errors: the SDK maps aiohttp's exceptions to its own.
        "http_async_client": openai.DefaultAioHttpClient(),
    }


def _build_azure(settings: Settings) -> AzureChatOpenAI:
    auth: dict = {"api_key": settings.azure_openai_api_key}
    if settings.azure_openai_api_key is None:
        provider = entra_token_provider(AZURE_OPENAI_SCOPE, settings.azure_client_id)
        auth = {"azure_ad_token_provider": provider}
    return send_as_built(
        AzureChatOpenAI(
            azure_endpoint=settings.azure_openai_endpoint,
            azure_deployment=settings.azure_openai_deployment,
            api_version=settings.azure_openai_api_version,
            **auth,
            **_client_options(settings),
        )
    )


def _build_openai(settings: Settings) -> ChatOpenAI:
    return send_as_built(
        ChatOpenAI(
            base_url=settings.openai_base_url,
            # Local servers (Ollama, llama.cpp) accept any key but the client insists on one.
            api_key=settings.openai_api_key or SecretStr("not-needed"),
            model=settings.openai_model,
            **_client_options(settings),
        )
    )


@contextmanager
def model_errors(retries: int) -> Iterator[None]:
    """Turn the OpenAI client's final error (after its retries) into a clear ModelUnavailable."""
    try:
        yield
    except openai.APIError as error:
        raise model_error(error, retries) from error


def model_error(error: openai.APIError, retries: int) -> ModelUnavailable:
    """The client-facing error for the OpenAI client's last failure."""
    tries = "1 retry" if retries == 1 else f"{retries} retries"
    return ModelUnavailable(f"the model did not answer ({_reason(error)}) after {tries}")


def _reason(error: openai.APIError) -> str:
    if isinstance(error, openai.APITimeoutError) and not _refused(error):
        return "timed out"
    if isinstance(error, openai.RateLimitError):
        return "rate limited, HTTP 429"
    if isinstance(error, openai.APIStatusError):
        return f"HTTP {error.status_code}"
    if isinstance(error, openai.APIConnectionError):
        return "could not connect"
    return type(error).__name__


def _refused(error: BaseException) -> bool:
    """The connection failed at once (refused, no such host). The SDK's aiohttp transport
    reports that as a timeout too: its vendored httpx-aiohttp maps every aiohttp connection
    error to ConnectTimeout (noted in openai-python PR #3594's review)."""
    cause = error.__cause__
    while cause is not None:
        if isinstance(cause, aiohttp.ClientConnectorError):
            return True
        cause = cause.__cause__
    return False


def install_model_error_handler(app: FastAPI, retries: int) -> None:
    """The OpenAI client's last failure on any route (the /agent route raises it as is)."""

    @app.exception_handler(openai.APIError)
    async def model_failure(_request: Request, error: openai.APIError) -> JSONResponse:
        return error_response(model_error(error, retries))
