"""Keyless, least privilege: no keys or passwords, only the data-plane roles the service needs."""

from tests.infra.helpers import BICEP_FILES

MODULES = "infra/modules/"
SESSION_EXECUTOR = "0fb8eba5-a2bb-4abe-b1c1-49dfad359bb0"
OPENAI_USER = "5e0bd9bd-7b93-4f28-af87-19fc36ad61bd"
ACR_PULL = "7f951dda-4ed3-4680-a7ca-43fe172d538d"
BLOB_DATA_CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"


def _grants(module: dict) -> set[tuple[str, str, str]]:
    """(scope resource, role id, principal parameter) for each role assignment in a module."""
    grants = set()
    for resource in module["resources"].values():
        if resource["type"] != "Microsoft.Authorization/roleAssignments":
            continue
        config = resource["config"]
        # A conditional resource (`= if (...)`) nests its body one level down.
        config = config["config"] if "condition" in config else config
        props = config["properties"]
        role_var = props["roleDefinitionId"]["function"]["parameters"]["resource_name_1"]
        role = module["variables"][role_var]["value"]
        grants.add((config["scope"], role, props["principalId"]))
    return grants


def _props(bicep: dict, module: str, resource: str) -> dict:
    return bicep[MODULES + module]["resources"][resource]["config"]["properties"]


def test_app_and_deploying_user_get_exactly_the_data_plane_roles(bicep):
    assert _grants(bicep[MODULES + "session-pool.bicep"]) == {
        ("pool", SESSION_EXECUTOR, "appPrincipalId"),
        ("pool", SESSION_EXECUTOR, "userPrincipalId"),
    }
    assert _grants(bicep[MODULES + "openai.bicep"]) == {
        ("account", OPENAI_USER, "appPrincipalId"),
        ("account", OPENAI_USER, "userPrincipalId"),
    }
    assert _grants(bicep[MODULES + "registry.bicep"]) == {("registry", ACR_PULL, "pullPrincipalId")}
    # Conversation files: read and write blobs in their one container, nothing else.
    assert _grants(bicep[MODULES + "storage.bicep"]) == {
        ("container", BLOB_DATA_CONTRIBUTOR, "appPrincipalId"),
        ("container", BLOB_DATA_CONTRIBUTOR, "userPrincipalId"),
    }


def test_no_keys_or_passwords(bicep):
    assert _props(bicep, "openai.bicep", "account")["disableLocalAuth"] is True
    assert _props(bicep, "registry.bicep", "registry")["adminUserEnabled"] is False
    storage = _props(bicep, "storage.bicep", "account")
    assert storage["allowSharedKeyAccess"] is False and storage["allowBlobPublicAccess"] is False
    auth = _props(bicep, "postgres.bicep", "server")["authConfig"]
    assert auth["passwordAuth"] == "Disabled" and auth["activeDirectoryAuth"] == "Enabled"
    for path in BICEP_FILES:
        text = path.read_text()
        assert "listKeys" not in text and "@secure" not in text, f"{path.name} handles a secret"


def test_session_pool_is_dynamic_python_with_egress_off_by_default(bicep):
    pool = _props(bicep, "session-pool.bicep", "pool")
    assert (pool["containerType"], pool["poolManagementType"]) == ("PythonLTS", "Dynamic")
    status = pool["sessionNetworkConfiguration"]["status"]["operator"]["operands"]
    assert (status["condition"], status["false_value"]) == ("egressEnabled", "EgressDisabled")
    main = bicep["infra/main.bicep"]["parameters"]
    assert main["sessionPoolEgressEnabled"]["default"] is False
    for knob in ("sessionPoolCooldownSeconds", "sessionPoolMaxSessions"):
        assert knob in main


def test_model_defaults_to_a_small_gpt_4o_class_model(bicep):
    main = bicep["infra/main.bicep"]["parameters"]
    assert main["openAiModelName"]["default"] == "gpt-4o-mini"
    assert {"openAiModelVersion", "openAiDeploymentCapacity"} <= set(main)
