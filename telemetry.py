"""Azure Monitor telemetry (traces, logs, metrics), on only when Application Insights is set."""

from settings import Settings


def configure_telemetry(settings: Settings) -> None:
    """Send telemetry to Application Insights if APPLICATIONINSIGHTS_CONNECTION_STRING is set.

    Call it before the FastAPI app is built, so the FastAPI instrumentation sees the app.
    Without a connection string nothing is imported or configured.
    """
    secret = settings.applicationinsights_connection_string
    connection_string = secret.get_secret_value() if secret else ""
    if not connection_string:
        return
    # Imported here: the distro pulls in all of OpenTelemetry, which a local run without
    # Application Insights should neither load nor pay for.
    from azure.monitor.opentelemetry import configure_azure_monitor

    configure_azure_monitor(connection_string=connection_string)
