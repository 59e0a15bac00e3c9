"""One name per value: what Bicep puts in the app's environment and in azd's are Settings fields."""

import json

from settings import Settings
from tests.infra.helpers import INFRA

# The names the service reads: every field of the one Settings class.
SETTINGS_NAMES = {name.upper() for name in Settings.model_fields}
MAIN = "infra/main.bicep"
APP = "infra/modules/container-app.bicep"

# Outputs azd itself reads (registry to push to, the app it deploys) or that name the deployment;
# Settings ignores extra variables, so they never configure the service.
AZD_OWN_OUTPUTS = {
    "AZURE_LOCATION",
    "AZURE_TENANT_ID",
    "AZURE_RESOURCE_GROUP",
    "AZURE_CONTAINER_REGISTRY_ENDPOINT",
    "AZURE_CONTAINER_ENVIRONMENT_NAME",
    "SERVICE_API_NAME",
    "SERVICE_API_URI",
}
# A local run after `azd env get-values > .env` needs these to use Azure's model and pool.
LOCAL_RUN_OUTPUTS = {
    "AZURE_OPENAI_ENDPOINT",
    "AZURE_OPENAI_DEPLOYMENT",
    "AZURE_OPENAI_API_VERSION",
    "POOL_MANAGEMENT_ENDPOINT",
    "AZURE_STORAGE_BLOB_ENDPOINT",
    "AZURE_STORAGE_CONTAINER",
}
# Without these the service in Azure cannot authenticate, reach its pool or report telemetry.
APP_REQUIRED_ENV = LOCAL_RUN_OUTPUTS | {"AZURE_CLIENT_ID", "APPLICATIONINSIGHTS_CONNECTION_STRING"}


def _env_entries(expr, variables: dict) -> list[dict]:
    """Every {name, value} entry an `env:` expression can produce, whichever branch is taken."""
    if isinstance(expr, list):
        return [entry for entry in expr if isinstance(entry, dict) and "name" in entry]
    if isinstance(expr, str):
        return _env_entries(variables[expr]["value"], variables) if expr in variables else []
    if isinstance(expr, dict) and "function" in expr:
        args = expr["function"]["parameters"].values()
        return [e for arg in args for e in _env_entries(arg, variables)]
    if isinstance(expr, dict) and "operator" in expr:
        operands = expr["operator"]["operands"]
        branches = [operands.get("true_value"), operands.get("false_value")]
        return [e for branch in branches for e in _env_entries(branch, variables)]
    raise AssertionError(f"unexpected env expression: {expr!r}")


def _container(bicep: dict) -> dict:
    (container,) = bicep[APP]["resources"]["app"]["config"]["properties"]["template"]["containers"]
    return container


def _app_env_names(bicep: dict) -> set[str]:
    entries = _env_entries(_container(bicep)["env"], bicep[APP]["variables"])
    return {entry["name"] for entry in entries}


def test_container_app_sets_only_settings_fields(bicep):
    names = _app_env_names(bicep)
    assert names >= APP_REQUIRED_ENV, f"missing: {APP_REQUIRED_ENV - names}"
    assert names <= SETTINGS_NAMES, f"not Settings fields: {names - SETTINGS_NAMES}"


def test_callers_can_be_authenticated(bicep):
    names = _app_env_names(bicep)
    assert {"API_KEYS", "ENTRA_TENANT_ID", "ENTRA_AUDIENCE"} <= names
    assert {"ENTRA_REQUIRED_SCOPES", "ENTRA_REQUIRED_ROLES"} <= names


def test_links_and_sign_in_metadata_name_the_apps_https_address(bicep):
    entries = _env_entries(_container(bicep)["env"], bicep[APP]["variables"])
    (public,) = [entry["value"] for entry in entries if entry["name"] == "PUBLIC_BASE_URL"]
    assert "https://" in json.dumps(public) and "defaultDomain" in json.dumps(public)


def test_browsers_keep_to_the_replica_that_signed_them_in(bicep):
    # No SESSION_SECRET in the app's settings: replicas sign sign-ins with the key kept in the
    # files' Blob container. Browsers still keep to one replica (and so do MCP handshakes).
    assert "SESSION_SECRET" not in _app_env_names(bicep)
    ingress = bicep[APP]["resources"]["app"]["config"]["properties"]["configuration"]["ingress"]
    assert ingress["stickySessions"]["affinity"] == "sticky"


def test_storage_is_sqlite_on_the_volume_or_a_passwordless_database(bicep):
    names = _app_env_names(bicep)
    assert {"DATA_DIR", "DATABASE_URL"} <= names
    mounts = {m["mountPath"] for m in _container(bicep)["volumeMounts"]}
    data_dir = next(
        e["value"]
        for e in _env_entries(_container(bicep)["env"], bicep[APP]["variables"])
        if e["name"] == "DATA_DIR"
    )
    assert data_dir in mounts
    url = bicep["infra/modules/postgres.bicep"]["outputs"]["databaseUrl"]["value"]
    assert "password" not in json.dumps(url).lower() and ":5432" in json.dumps(url)


def test_outputs_azd_writes_are_settings_fields_or_azd_own(bicep):
    outputs = set(bicep[MAIN]["outputs"])
    assert outputs >= LOCAL_RUN_OUTPUTS, f"missing: {LOCAL_RUN_OUTPUTS - outputs}"
    stray = outputs - SETTINGS_NAMES - AZD_OWN_OUTPUTS
    assert not stray, f"outputs that are neither Settings fields nor azd's own: {stray}"
    # azd needs the registry endpoint to push the image it builds.
    assert "AZURE_CONTAINER_REGISTRY_ENDPOINT" in outputs


def test_parameters_file_matches_main_bicep(bicep):
    params = bicep[MAIN]["parameters"]
    given = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    assert set(given) <= set(params), f"unknown parameters: {set(given) - set(params)}"
    required = {name for name, spec in params.items() if "default" not in spec}
    assert required <= set(given), f"required but not given: {required - set(given)}"
    assert given["environmentName"]["value"] == "${AZURE_ENV_NAME}"
    assert given["location"]["value"] == "${AZURE_LOCATION}"
    assert given["principalId"]["value"] == "${AZURE_PRINCIPAL_ID}"


def test_probes_and_ingress_match_the_service(bicep):
    container = _container(bicep)
    port = bicep[APP]["variables"]["port"]["value"]
    probes = {p["type"]: p["httpGet"] for p in container["probes"]}
    assert probes["Liveness"]["path"] == "/healthz"
    assert probes["Readiness"]["path"] == "/readyz"
    assert {p["port"] for p in probes.values()} == {"port"} and port == 8000
    ingress = bicep[APP]["resources"]["app"]["config"]["properties"]["configuration"]["ingress"]
    assert ingress["external"] is True and ingress["targetPort"] == "port"
