"""Azure Monitor telemetry: each request, its outgoing calls and its LangChain runs in one trace.

On only when APPLICATIONINSIGHTS_CONNECTION_STRING is set. Application Insights then receives
- a request per HTTP request (OpenTelemetry's FastAPI instrumentation, put on the app itself,
  so it works whatever imported FastAPI first); the health probes are left out;
- a dependency per outgoing call: the model (over aiohttp) and the session pool (httpx);
- a span per LangChain run (the chain, the agent, each model call and each tool call), from
  OpenInference's LangChain instrumentation, parented to the request;
- the service's log records and metrics.
Prompts, answers, code and tool output are recorded only with TELEMETRY_CAPTURE_CONTENT=true;
otherwise the runs keep their names, timings, token counts and errors but not their inputs and
outputs, and request URLs lose their query string (GET /chat carries the message there).
"""

import os

from fastapi import FastAPI

from settings import Settings

# Regular expressions searched in the URL. Container Apps probes these every few seconds.
UNTRACED_URLS = "/healthz$,/readyz$"
_configured = False


def install_telemetry(app: FastAPI, settings: Settings) -> None:
    """Send the app's telemetry to Application Insights, if its connection string is set.

    Without one, nothing is imported: the distro pulls in all of OpenTelemetry, which a local
    run should neither load nor pay for.
    """
    secret = settings.applicationinsights_connection_string
    connection_string = secret.get_secret_value() if secret else ""
    if not connection_string:
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    _configure_once(connection_string, settings.telemetry_capture_content)
    FastAPIInstrumentor.instrument_app(
        app,
        excluded_urls=UNTRACED_URLS,
        # One span per ASGI message would be a dependency record per streamed chunk.
        exclude_spans=["receive", "send"],
        server_request_hook=None if settings.telemetry_capture_content else _drop_query,
    )


def _configure_once(connection_string: str, capture_content: bool) -> None:
    """OpenTelemetry's providers are process-wide: set them up for the first app only."""
    global _configured
    if _configured:
        return
    _configured = True
    from azure.monitor.opentelemetry import configure_azure_monitor

    # The distro's own FastAPI instrumentation patches the class, which misses an app whose
    # module imported FastAPI first; install_telemetry instruments the app itself instead.
    configure_azure_monitor(
        connection_string=connection_string,
        instrumentation_options={"fastapi": {"enabled": False}},
        **_whole_traces(),
    )
    _trace_aiohttp_calls()
    _trace_langchain_runs(capture_content)


def _trace_aiohttp_calls() -> None:
    """A dependency per call over aiohttp: the model's (the OpenAI SDK's aiohttp transport),
    which the distro's instrumentations (httpx, requests, urllib) do not see."""
    from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor

    AioHttpClientInstrumentor().instrument()


def _whole_traces() -> dict:
    """Keep every trace, whole, unless OTEL_TRACES_SAMPLER chooses a sampler.

    The distro's default limits spans per second (5) and decides again for each span whose
    parent was kept at 100 %: a turn's burst of spans then loses its model and pool calls,
    or the next request, at random. A fixed percentage keeps or drops a trace as a whole.
    """
    return {} if os.environ.get("OTEL_TRACES_SAMPLER") else {"sampling_ratio": 1.0}


def _trace_langchain_runs(capture_content: bool) -> None:
    """A span per LangChain run, in the trace of the span current when the run started.

    OpenInference's tracer never changes the current context, so the model's and the pool's
    HTTP calls stay in the request's trace. (LangSmith's OpenTelemetry mode puts the calls
    made inside the agent's middleware into a trace of its own; OpenLLMetry's instrumentation
    detaches contexts across tasks and logs an error per run.)
    """
    from openinference.instrumentation import TraceConfig
    from openinference.instrumentation.langchain import LangChainInstrumentor

    hidden = not capture_content
    LangChainInstrumentor().instrument(config=TraceConfig(hide_inputs=hidden, hide_outputs=hidden))


def _drop_query(span, scope: dict) -> None:
    """Record the path alone: a query string may carry a message (GET /chat?message=...)."""
    if not span.is_recording() or not scope.get("query_string"):
        return
    for name in ("http.target", "http.url", "url.full"):
        value = span.attributes.get(name)
        if isinstance(value, str):
            span.set_attribute(name, value.split("?", 1)[0])
    if "url.query" in span.attributes:
        span.set_attribute("url.query", "")
