"""azure.yaml: the fields azd needs to provision infra/ and deploy the API to Container Apps."""

import yaml

from tests.infra.helpers import ROOT


def _azure_yaml() -> dict:
    return yaml.safe_load((ROOT / "azure.yaml").read_text())


def test_names_the_project_and_its_bicep():
    config = _azure_yaml()
    assert config["name"]
    infra = config["infra"]
    assert infra["provider"] == "bicep"
    assert (ROOT / infra["path"] / f"{infra['module']}.bicep").is_file()
    assert (ROOT / infra["path"] / f"{infra['module']}.parameters.json").is_file()


def test_one_python_service_on_container_apps_built_remotely():
    services = _azure_yaml()["services"]
    assert list(services) == ["api"]
    api = services["api"]
    assert (api["host"], api["language"]) == ("containerapp", "python")
    assert (ROOT / api["project"] / api["docker"]["path"]).is_file()
    assert api["docker"]["remoteBuild"] is True


def test_the_service_name_tags_the_container_app(bicep):
    # azd finds the app to deploy by this tag; a mismatch deploys nothing.
    tags = bicep["infra/modules/container-app.bicep"]["resources"]["app"]["config"]["tags"]
    # tags: union(tags, {'azd-service-name': ...}); the parser keeps a quoted key's quotes.
    added = {
        key.strip("'"): value
        for arg in tags["function"]["parameters"].values()
        if isinstance(arg, dict)
        for key, value in arg.items()
    }
    (service,) = _azure_yaml()["services"]
    assert added["azd-service-name"] == service
