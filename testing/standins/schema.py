"""What the pinned Python SDKs declare for each resource type: input names (and which are
required) and output names with their kind. The stand-in providers check and answer with it, so
a program that passes an input the real provider does not know fails here as it would there."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import importlib
import importlib.util
import inspect
import json
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pulumi import _types

# The provider packages this program uses, by plugin name.
SDK_MODULES = {
    "aws": "pulumi_aws",
    "eks": "pulumi_eks",
    "kubernetes": "pulumi_kubernetes",
    "random": "pulumi_random",
}

_MODULE_TABLE = re.compile(r'resource_modules="""(.*?)"""', re.DOTALL)


def _package_dir(package: str) -> Path:
    spec = importlib.util.find_spec(SDK_MODULES[package])
    if spec is None or spec.origin is None:
        raise LookupError(f"the Python SDK {SDK_MODULES[package]} is not installed")
    return Path(spec.origin).parent


def plugin_version(package: str) -> str:
    """The plugin version the pinned SDK asks the engine for (its `pulumi-plugin.json`)."""
    return str(json.loads((_package_dir(package) / "pulumi-plugin.json").read_text())["version"])


@functools.cache
def _classes(package: str) -> dict[str, tuple[str, str]]:
    """Type token -> (module, class name), from the table the SDK registers at import time."""
    text = (_package_dir(package) / "__init__.py").read_text()
    table: dict[str, tuple[str, str]] = {
        f"pulumi:providers:{package}": (SDK_MODULES[package], "Provider")
    }
    for block in _MODULE_TABLE.findall(text):
        for entry in json.loads(block):
            for token, name in entry["classes"].items():
                table[token] = (entry["fqn"], name)
    return table


@dataclass(frozen=True)
class Declared:
    """One resource type as the SDK declares it (property names as they travel on the wire)."""

    token: str
    inputs: dict[str, bool]  # name -> required
    outputs: dict[str, str]  # name -> str | int | float | bool | list | dict


def _kind(annotation: Any) -> str:
    text = str(annotation)
    for wrapper in ("pulumi.output.Output[", "typing.Optional["):
        if text.startswith(wrapper):
            text = text[len(wrapper) :]
    head = text.split("[", 1)[0].rstrip("]")
    if head == "typing.Literal":
        return "str"
    scalars = {"str": "str", "int": "int", "float": "float", "bool": "bool"}
    if head in scalars:
        return scalars[head]
    if head.endswith(("Sequence", "list", "List")):
        return "list"
    return "dict"


# Where plugin processes keep declarations between runs (importing an SDK module to read one
# costs a fraction of a second; a stack uses about eighty types). Keyed by SDK version.
CACHE_DIR = "STANDIN_SCHEMA_CACHE"


@functools.cache
def declared(token: str) -> Declared | None:
    """The declaration of `token`, or None when no pinned SDK declares it."""
    cache = os.environ.get(CACHE_DIR)
    if not cache:
        return _introspect(token)
    package = token.split(":", 1)[0]
    package = token.rsplit(":", 1)[-1] if package == "pulumi" else package
    if package not in SDK_MODULES:
        return None
    key = hashlib.sha256(token.encode()).hexdigest()[:24]
    path = Path(cache) / f"{package}-{plugin_version(package)}" / f"{key}.json"
    if path.exists():
        stored = json.loads(path.read_text())
        return Declared(**stored) if stored else None
    found = _introspect(token)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.tmp")
    partial.write_text(json.dumps(dataclasses.asdict(found) if found else None))
    partial.replace(path)
    return found


def _introspect(token: str) -> Declared | None:
    package = token.split(":", 1)[0]
    if package == "pulumi":
        package = token.rsplit(":", 1)[-1]
    if package not in SDK_MODULES:
        return None
    located = _classes(package).get(token)
    if located is None:
        return None
    module = importlib.import_module(located[0])
    resource_class = getattr(module, located[1])
    # The resource's own Args class: where a nested input type took `<Name>Args` (S3's
    # BucketVersioningArgs is Bucket's `versioning`), the generator names it `<Name>InitArgs`.
    home = sys.modules[resource_class.__module__]
    args_class = getattr(home, f"{located[1]}InitArgs", None) or getattr(home, f"{located[1]}Args")
    wire = {python: name for python, name, _ in _types._py_properties(args_class)}
    parameters = inspect.signature(args_class.__init__).parameters
    inputs = {
        wire.get(python, python): parameter.default is inspect.Parameter.empty
        for python, parameter in parameters.items()
        if python != "__self__" and parameter.kind is inspect.Parameter.KEYWORD_ONLY
    }
    outputs = {
        name: _kind(prop.fget.__annotations__.get("return"))
        for _, name, prop in _types._py_properties(resource_class)
        if prop.fget is not None
    }
    return Declared(token, inputs, outputs)
