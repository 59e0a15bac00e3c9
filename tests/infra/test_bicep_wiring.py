"""What `bicep build` would catch and we cannot run here: modules called with their real
parameters, module outputs that exist, and identifiers that are declared."""

import re

from tests.infra.helpers import BICEP_FILES, ROOT

MAIN = "infra/main.bicep"
# Bicep's functions and keywords that may appear where an identifier is read.
BUILTINS = {
    "resourceGroup", "subscription", "tenant", "deployment", "environment", "uniqueString",
    "toLower", "guid", "subscriptionResourceId", "resourceId", "empty", "union", "concat",
    "json", "take", "replace", "true", "false", "null", "if", "existing", "for", "in",
}  # fmt: skip


def _body(decl: dict) -> dict:
    config = decl["config"]
    return config["config"] if "condition" in config else config


def test_every_module_gets_exactly_its_parameters(bicep):
    for symbol, module in bicep[MAIN]["modules"].items():
        path = f"infra/{module['detail']['path']}"
        declared = bicep[path]["parameters"]
        given = set(_body(module)["params"])
        assert given <= set(declared), f"{symbol}: unknown params {given - set(declared)}"
        required = {name for name, spec in declared.items() if "default" not in spec}
        assert required <= given, f"{symbol}: missing params {required - given}"


def test_module_outputs_read_by_main_exist(bicep):
    modules = bicep[MAIN]["modules"]
    text = (ROOT / MAIN).read_text()
    reads = set(re.findall(r"\b(\w+)\.outputs\.(\w+)", text))
    assert reads, "main.bicep reads no module outputs"
    for symbol, output in reads:
        path = f"infra/{modules[symbol]['detail']['path']}"
        assert output in bicep[path]["outputs"], f"{symbol}.outputs.{output} is not declared"


def _declared(parsed: dict) -> set[str]:
    names = set()
    for section in ("parameters", "variables", "resources", "modules", "outputs"):
        names |= set(parsed.get(section, {}))
    return names


def _interpolations(match: re.Match) -> str:
    return " ".join(re.findall(r"\$\{([^}]*)\}", match[0])) if match[0][0] == "'" else ""


def _code_identifiers(text: str) -> set[str]:
    """Identifiers read as values: outside strings and comments, not property keys or types."""
    # One pass, so `//` inside a string is not a comment: strings keep only their ${...}.
    text = re.sub(r"'(?:[^'\\]|\\.)*'|//[^\n]*", _interpolations, text)
    names = set()
    for line in text.splitlines():
        line = re.sub(r"^\s*@\w+", "", line)  # decorators
        line = re.sub(r"^\s*(param|var|output|resource|module)\s+\w+(\s+\w+)?", "", line)
        line = re.sub(r"^\s*\w+\s*:", "", line)  # property keys
        line = re.sub(r"\.\s*\w+", "", line)  # member access: only the root is an identifier
        line = re.sub(r"\b(string|int|bool|object|array)\b", "", line)
        names |= set(re.findall(r"\b[A-Za-z_]\w*\b", line))
    return names - BUILTINS - {"targetScope", "scope", "subscription"}


def test_every_identifier_read_is_declared(bicep):
    for path in BICEP_FILES:
        key = str(path.relative_to(ROOT))
        undeclared = _code_identifiers(path.read_text()) - _declared(bicep[key])
        assert not undeclared, f"{key}: undeclared identifiers {sorted(undeclared)}"
