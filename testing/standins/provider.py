"""One STAND-IN provider plugin process: `python -m testing.standins.provider PACKAGE ENGINE`.

It serves the provider protocol through `pulumi.provider.experimental`, so the engine drives it
exactly as it drives the real plugin: Check, Diff, Create, Read, Update, Delete, Invoke and, for
pulumi-eks's remote components, Construct. Nothing here calls a cloud.

Regional outage: `STANDIN_UNREACHABLE_REGIONS=us-east-1` makes every call that would reach an
AWS endpoint in that region fail as an unreachable endpoint fails: Create, Read, Update, Delete
and invokes of resources in the region (IAM and Route 53 changes count as us-east-1's, where
their control planes are, and ARC recovery control configuration as us-west-2's), and Configure
of an aws provider for the region unless it skips both the credential check and the account id
lookup (the real provider calls STS at configure time:
https://registry.terraform.io/providers/hashicorp/aws/latest/docs#skip_credentials_validation).
Check and Diff never call AWS, so unchanged resources of a failed region do not block an `up`.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import sys
from collections.abc import Mapping
from typing import Any

import pulumi
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.errors import InputPropertiesError
from pulumi.provider.experimental import server
from pulumi.provider.experimental.property_value import (
    Computed,
    PropertyValue,
    ResourceReference,
)
from pulumi.provider.experimental.provider import (
    CheckFailure,
    ConfigureRequest,
    ConfigureResponse,
    ConstructRequest,
    ConstructResponse,
    InvokeRequest,
    InvokeResponse,
    Provider,
)
from pulumi.runtime import proto, rpc

from testing.invented import ACCOUNT, invented_outputs, region_of_endpoint
from testing.standins import schema

UNREACHABLE_REGIONS = "STANDIN_UNREACHABLE_REGIONS"
# Services whose API is in one region whatever region the provider or resource names: IAM and
# Route 53 in us-east-1 (see `reach`), ARC's recovery control configuration in us-west-2 ("you
# must specify the US West (Oregon) Region when you work with ... recovery control configuration
# resources": https://docs.aws.amazon.com/recovery-cluster/latest/api/what-is-recovery-control.html).
GLOBAL_CONTROL_PLANES = {
    "iam": "us-east-1",
    "route53": "us-east-1",
    "route53recoverycontrol": "us-west-2",
}
UNKNOWN = object()
_ARN_REGION = re.compile(r"^arn:aws[\w-]*:[\w-]+:([a-z]{2}(?:-[a-z]+)+-\d):")


def plain(value: PropertyValue | None) -> Any:  # noqa: PLR0911 - one return per value kind
    """A property value as plain Python: secrets unwrapped, unknowns as `UNKNOWN`, resource
    references as their URN, assets and archives as their path or text."""
    if value is None:
        return None
    inner = value.value
    if isinstance(inner, Computed) or inner == rpc.UNKNOWN:
        return UNKNOWN
    if isinstance(inner, ResourceReference):
        return inner.urn
    if isinstance(inner, pulumi.Asset | pulumi.Archive):
        return repr(getattr(inner, "path", None) or getattr(inner, "text", None) or inner)
    if isinstance(inner, Mapping):
        return {k: plain(v) for k, v in inner.items()}
    if isinstance(inner, list | tuple):
        return [plain(v) for v in inner]
    return inner


def wire_plain(value: Any) -> Any:  # noqa: PLR0911 - one return per value kind
    """A property as the wire carries it (JSON) as plain Python, like `plain`. Assets and
    archives become their hash where the engine has computed it, else their path: the SDK's
    PropertyValue cannot read an archive as the engine stores it."""
    if value == rpc.UNKNOWN:
        return UNKNOWN
    if isinstance(value, list):
        return [wire_plain(v) for v in value]
    if not isinstance(value, dict):
        return value
    signature = value.get(rpc._special_sig_key)
    if signature in (rpc._special_asset_sig, rpc._special_archive_sig):
        return {"asset": value.get("hash") or value.get("path") or value.get("uri")}
    if signature == rpc._special_secret_sig:
        return wire_plain(value.get("value"))
    if signature == rpc._special_resource_sig:
        return value.get("urn")
    if signature == rpc._special_output_value_sig:
        return wire_plain(value["value"]) if "value" in value else UNKNOWN
    return {k: wire_plain(v) for k, v in value.items()}


def wrap(value: Any) -> PropertyValue:
    """Plain Python as a property value (ints travel as floats on the wire)."""
    if isinstance(value, Mapping):
        return PropertyValue({str(k): wrap(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return PropertyValue([wrap(v) for v in value])
    if isinstance(value, int) and not isinstance(value, bool):
        return PropertyValue(float(value))
    return PropertyValue(value)


def sendable(value: PropertyValue) -> PropertyValue:
    """`value` with each unknown as the wire's unknown sentinel: the SDK's PropertyValue cannot
    marshal its own `Computed`."""
    inner = value.value
    if isinstance(inner, Computed):
        return value.with_value(rpc.UNKNOWN)
    if isinstance(inner, Mapping):
        return value.with_value({k: sendable(v) for k, v in inner.items()})
    if isinstance(inner, list | tuple):
        return value.with_value([sendable(v) for v in inner])
    return value


def _contains_unknown(value: Any) -> bool:
    if value is UNKNOWN:
        return True
    if isinstance(value, dict):
        return any(_contains_unknown(v) for v in value.values())
    if isinstance(value, list):
        return any(_contains_unknown(v) for v in value)
    return False


def changed_inputs(olds: Mapping[str, Any], news: Mapping[str, Any]) -> list[str]:
    """The top-level inputs that differ (an unknown new value counts as a change)."""
    keys = {k for k in (*olds, *news) if not k.startswith("__")}
    return sorted(k for k in keys if _contains_unknown(news.get(k)) or olds.get(k) != news.get(k))


def type_of(request: Any) -> str:
    """The resource type of a request (the SDK's `request.type` keeps the URN's parent types,
    `parent$child$type`)."""
    return str(request.type).rsplit("$", 1)[-1]


def _empty(kind: str, name: str, key: str) -> Any:
    return {"str": f"{name}-{key}", "int": 0, "float": 0.0, "bool": False, "list": []}.get(kind, {})


def _arn_region(values: Any) -> str | None:
    """The region of the first regional ARN found among `values`."""
    if isinstance(values, str):
        found = _ARN_REGION.match(values)
        return found.group(1) if found else None
    children = values.values() if isinstance(values, dict) else values
    if isinstance(values, dict | list):
        for child in children:
            region = _arn_region(child)
            if region:
                return region
    return None


class UnreachableError(Exception):
    """What the SDK reports when an AWS endpoint cannot be reached."""

    def __init__(self, service: str, region: str) -> None:
        super().__init__(
            f"STAND-IN simulated outage of {region}: request send failed, "
            f'Post "https://{service}.{region}.amazonaws.com/": dial tcp: i/o timeout'
        )


class StandIn(Provider):
    """The stand-in for one provider configuration of one package."""

    def __init__(self, package: str) -> None:
        self.package = package
        self.region = ""
        self.unreachable = {
            r.strip() for r in os.environ.get(UNREACHABLE_REGIONS, "").split(",") if r.strip()
        }

    # --- configuration -------------------------------------------------------------------
    async def configure(self, request: ConfigureRequest) -> ConfigureResponse:
        args = {k: plain(v) for k, v in request.args.items()}
        if self.package == "aws":
            self.region = str(args.get("region") or os.environ.get("AWS_REGION") or "")
            # The provider calls STS at configure time unless it skips both the credential check
            # and the account id lookup.
            skips = all(
                str(args.get(flag)).lower() == "true"
                for flag in ("skipCredentialsValidation", "skipRequestingAccountId")
            )
            if self.region in self.unreachable and not skips:
                raise UnreachableError("sts", self.region)
        elif self.package == "kubernetes":
            self.region = self._kubeconfig_region(args.get("kubeconfig"))
        return ConfigureResponse(
            accept_secrets=True, supports_preview=True, accept_resources=True, accept_outputs=True
        )

    @staticmethod
    def _kubeconfig_region(kubeconfig: Any) -> str:
        if not isinstance(kubeconfig, str):
            return ""
        try:
            config = json.loads(kubeconfig)
        except ValueError:
            return ""
        for cluster in config.get("clusters", []):
            region = region_of_endpoint(str(cluster.get("cluster", {}).get("server", "")))
            if region:
                return region
        return ""

    # --- checks --------------------------------------------------------------------------
    def _failures(self, type_: str, name: str, inputs: Mapping[str, Any]) -> list[CheckFailure]:
        declared = schema.declared(type_)
        if declared is None and self.package == "kubernetes":
            # A custom resource: its schema is its CRD's, in the cluster, not in the SDK.
            return []
        if declared is None:
            return [
                CheckFailure(
                    "",
                    f"resource {name!r}: {type_} is not a type that the pinned "
                    f"{schema.SDK_MODULES[self.package]} declares",
                )
            ]
        failures = [
            CheckFailure(
                key,
                f"resource {name!r} ({type_}): unknown input {key!r}; "
                f"the pinned {schema.SDK_MODULES[self.package]} declares no such input",
            )
            for key in inputs
            if not key.startswith("__") and key not in declared.inputs
        ]
        failures += [
            CheckFailure(key, f"resource {name!r} ({type_}): required input {key!r} is missing")
            for key, required in declared.inputs.items()
            if required and inputs.get(key) is None
        ]
        return failures

    # --- lifecycle, on property maps as the wire carries them (see _Servicer) -------------
    def check_inputs(self, type_: str, name: str, news: Mapping[str, Any]) -> list[CheckFailure]:
        return self._failures(type_, name, {k: wire_plain(v) for k, v in news.items()})

    def _region_of(self, inputs: Mapping[str, Any]) -> str:
        region = inputs.get("region")
        return region if isinstance(region, str) and region else self.region

    def reach(self, type_: str, properties: Mapping[str, Any]) -> None:
        service = type_.split(":")[1].split("/", 1)[0]
        # IAM and Route 53 are global services whose control planes are in us-east-1, whatever
        # region the provider is configured for (AWS Fault Isolation Boundaries, "Global
        # services": https://docs.aws.amazon.com/whitepapers/latest/aws-fault-isolation-boundaries/global-services.html).
        region = GLOBAL_CONTROL_PLANES.get(service) or self._region_of(
            {k: wire_plain(v) for k, v in properties.items()}
        )
        if region in self.unreachable:
            raise UnreachableError(service, region)

    def create_outputs(
        self, type_: str, name: str, urn: str, inputs: Mapping[str, Any], preview: bool
    ) -> tuple[str, dict[str, Any]]:
        """The new resource's id and outputs: its inputs, plus every output the SDK declares,
        invented (unknown in a preview)."""
        if not preview:
            self.reach(type_, inputs)
        values = {k: wire_plain(v) for k, v in inputs.items()}
        outputs = dict(inputs)
        declared = schema.declared(type_)
        invented = invented_outputs(type_, name, self._region_of(values), values)
        for key, kind in (declared.outputs if declared else {}).items():
            if key not in outputs:
                outputs[key] = (
                    rpc.UNKNOWN if preview else invented.get(key, _empty(kind, name, key))
                )
        # Some AWS ids are the physical name the user chose (a global cluster's identifier).
        identifier = values.get("globalClusterIdentifier")
        if preview:
            return "", outputs
        if identifier:
            return str(identifier), outputs
        return f"{name}-{hashlib.sha256(urn.encode()).hexdigest()[:8]}", outputs

    def update_outputs(
        self, type_: str, olds: Mapping[str, Any], news: Mapping[str, Any], preview: bool
    ) -> dict[str, Any]:
        if not preview:
            self.reach(type_, news)
        return {**olds, **news}

    async def invoke(self, request: InvokeRequest) -> InvokeResponse:
        if request.tok == "aws:index/getCallerIdentity:getCallerIdentity":
            if self.region in self.unreachable:
                raise UnreachableError("sts", self.region)
            identity = {
                "accountId": ACCOUNT,
                "arn": f"arn:aws:iam::{ACCOUNT}:role/deployer",
                "userId": "AROASTANDIN:deployer",
                "id": ACCOUNT,
            }
            return InvokeResponse(return_value={k: wrap(v) for k, v in identity.items()})
        refusal = f"the {self.package} stand-in does not answer {request.tok}"
        return InvokeResponse(failures=[CheckFailure("", refusal)])

    # --- remote components ---------------------------------------------------------------
    async def construct(self, request: ConstructRequest) -> ConstructResponse:
        inputs = {k: plain(v) for k, v in request.inputs.items()}
        failures = self._failures(request.resource_type, request.name, inputs)
        if failures:
            raise InputPropertiesError(
                f"{request.resource_type} {request.name!r} has invalid inputs",
                [{"property_path": f.property, "reason": f.reason} for f in failures],
            )
        # pulumi-eks registers its components with no inputs (a component holds no cloud
        # state), so the engine and the policy pack see only the AWS resources it creates.
        component = pulumi.ComponentResource(
            request.resource_type, request.name, None, request.options
        )
        children = _eks_children(
            request.resource_type, request.name, inputs, component, request.options
        )
        # The cluster lives where the regional resources it is given (its keys, roles) live.
        region = _arn_region(inputs) or ""
        declared = schema.declared(request.resource_type)
        outputs = {key: PropertyValue.computed() for key in (declared.outputs if declared else {})}
        # Invented outputs depend on the inputs alone: known as soon as the inputs are, in a
        # preview too, as pulumi-eks's are for a cluster that already exists.
        if not _contains_unknown(inputs):
            invented = invented_outputs(request.resource_type, request.name, region, inputs)
            for key, kind in (declared.outputs if declared else {}).items():
                if key in children:
                    outputs[key] = await _reference(children[key])
                elif key in invented or kind != "dict":
                    outputs[key] = wrap(invented.get(key, _empty(kind, request.name, key)))
                else:
                    # A nested object or resource pulumi-eks returns that nothing reads here.
                    del outputs[key]
        component.register_outputs({})
        urn = await component.urn.future()
        assert urn is not None
        state = {k: sendable(v) for k, v in outputs.items()}
        return ConstructResponse(urn=urn, state=state, state_dependencies={})


def _value_unknown_outputs(value: struct_pb2.Value) -> None:
    """Complete each output value in place: the unknown sentinel where it has no `value`, and
    `secret: false` where it has no `secret` (the SDK's PropertyValue fails on either)."""
    if value.HasField("list_value"):
        for item in value.list_value.values:
            _value_unknown_outputs(item)
    elif value.HasField("struct_value"):
        fields = value.struct_value.fields
        signature = fields.get(rpc._special_sig_key)
        if signature is not None and signature.string_value == rpc._special_output_value_sig:
            if "value" not in fields:
                fields["value"].string_value = rpc.UNKNOWN
            if "secret" not in fields:
                fields["secret"].bool_value = False
        for item in fields.values():
            _value_unknown_outputs(item)


def _sdk(value: Any) -> Any:
    """A plain value as an SDK input: each unknown becomes an unknown output."""
    if value is UNKNOWN:
        return pulumi.Output(set(), _resolved(None), _resolved(False))
    if isinstance(value, dict):
        return {k: _sdk(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_sdk(v) for v in value]
    return value


def _resolved(value: Any) -> asyncio.Future[Any]:
    future: asyncio.Future[Any] = asyncio.get_event_loop().create_future()
    future.set_result(value)
    return future


async def _reference(resource: pulumi.CustomResource) -> PropertyValue:
    urn = await resource.urn.future()
    resource_id = await resource.id.future()
    return PropertyValue(
        ResourceReference(
            urn=str(urn),
            resource_id=PropertyValue(str(resource_id)) if resource_id else None,
            package_version=schema.plugin_version("aws"),
        )
    )


def _role_arn(urn: Any) -> Any:
    """The ARN of a role given by reference (named, here, after its URN)."""
    if urn is UNKNOWN:
        return UNKNOWN
    return f"arn:aws:iam::{ACCOUNT}:role/{str(urn).rsplit('::', 1)[-1]}"


def _eks_children(
    type_: str,
    name: str,
    inputs: Mapping[str, Any],
    parent: pulumi.Resource,
    options: pulumi.ResourceOptions,
) -> dict[str, pulumi.CustomResource]:
    """The AWS resources pulumi-eks creates for a cluster or managed node group, with the
    settings it maps from the component's inputs (as its SDK documents them): what the engine
    and the policies see of a cluster. IAM, security group and add-on children are left out.
    Returns them by the component output that references them."""
    import pulumi_aws as aws  # noqa: PLC0415 - only the eks stand-in registers AWS children

    providers = options.providers if isinstance(options.providers, Mapping) else {}
    child = pulumi.ResourceOptions(parent=parent, provider=providers.get("aws"))
    if type_ == "eks:index:Cluster":
        key = inputs.get("encryptionConfigKeyArn")
        cluster = aws.eks.Cluster(
            f"{name}-eksCluster",
            name=_sdk(inputs.get("name")),
            role_arn=_sdk(_role_arn(inputs.get("serviceRole"))),
            version=_sdk(inputs.get("version")),
            vpc_config=aws.eks.ClusterVpcConfigArgs(
                subnet_ids=_sdk(
                    [*inputs.get("privateSubnetIds", []), *inputs.get("publicSubnetIds", [])]
                ),
                endpoint_private_access=_sdk(inputs.get("endpointPrivateAccess")),
                endpoint_public_access=_sdk(inputs.get("endpointPublicAccess", True)),
                public_access_cidrs=_sdk(inputs.get("publicAccessCidrs")),
            ),
            encryption_config=aws.eks.ClusterEncryptionConfigArgs(
                provider=aws.eks.ClusterEncryptionConfigProviderArgs(key_arn=_sdk(key)),
                resources=["secrets"],
            )
            if key
            else None,
            enabled_cluster_log_types=_sdk(inputs.get("enabledClusterLogTypes")),
            access_config=aws.eks.ClusterAccessConfigArgs(
                authentication_mode=_sdk(inputs.get("authenticationMode"))
            ),
            deletion_protection=_sdk(inputs.get("deletionProtection")),
            opts=child,
        )
        return {"eksCluster": cluster}
    elif type_ == "eks:index:ManagedNodeGroup":
        ignored = ["scalingConfig.desiredSize"] if inputs.get("ignoreScalingChanges") else []
        group = aws.eks.NodeGroup(
            name,
            cluster_name=_sdk(str(inputs.get("cluster", "")).rsplit("::", 1)[-1]),
            node_group_name=_sdk(inputs.get("nodeGroupName")),
            node_role_arn=_sdk(_role_arn(inputs.get("nodeRole"))),
            subnet_ids=_sdk(inputs.get("subnetIds")),
            instance_types=_sdk(inputs.get("instanceTypes")),
            scaling_config=_sdk(inputs.get("scalingConfig")),
            launch_template=_sdk(inputs.get("launchTemplate")),
            labels=_sdk(inputs.get("labels")),
            taints=_sdk(inputs.get("taints")),
            opts=pulumi.ResourceOptions.merge(
                child, pulumi.ResourceOptions(ignore_changes=ignored)
            ),
        )
        return {"nodeGroup": group}
    return {}


def _wire(struct: struct_pb2.Struct) -> dict[str, Any]:
    return json_format.MessageToDict(struct)


def _struct(properties: Mapping[str, Any]) -> struct_pb2.Struct:
    result = struct_pb2.Struct()
    result.update(dict(properties))
    return result


def _name(urn: str) -> str:
    return urn.rsplit("::", 1)[-1]


class _Servicer(server.ProviderServicer):
    """The SDK's servicer for Configure, Invoke and Construct; the resource lifecycle is
    answered here on property maps as the wire carries them, because the SDK's PropertyValue
    cannot read an archive as the engine stores it, nor an unknown output value. Diff answers
    from the old *inputs* the engine sends (the SDK passes only old outputs, which include
    invented values), and Construct's inputs are completed so the SDK can read them."""

    def __init__(self, args: list[str], version: str, provider: StandIn, engine: str) -> None:
        super().__init__(args, version, provider, engine_address=engine)
        self._standin = provider

    async def Construct(self, request: Any, context: Any) -> Any:
        for value in request.inputs.fields.values():
            _value_unknown_outputs(value)
        return await super().Construct(request, context)

    async def Check(self, request: Any, context: Any) -> Any:
        news = _wire(request.news)
        failures = self._standin.check_inputs(type_of(request), _name(request.urn), news)
        return proto.CheckResponse(
            inputs=request.news,
            failures=[proto.CheckFailure(property=f.property, reason=f.reason) for f in failures],
        )

    async def Create(self, request: Any, context: Any) -> Any:
        resource_id, outputs = self._standin.create_outputs(
            type_of(request),
            _name(request.urn),
            request.urn,
            _wire(request.properties),
            request.preview,
        )
        return proto.CreateResponse(id=resource_id, properties=_struct(outputs))

    async def Update(self, request: Any, context: Any) -> Any:
        outputs = self._standin.update_outputs(
            type_of(request), _wire(request.olds), _wire(request.news), request.preview
        )
        return proto.UpdateResponse(properties=_struct(outputs))

    async def Read(self, request: Any, context: Any) -> Any:
        self._standin.reach(type_of(request), _wire(request.properties))
        return proto.ReadResponse(
            id=request.id, properties=request.properties, inputs=request.inputs
        )

    async def Delete(self, request: Any, context: Any) -> Any:
        self._standin.reach(type_of(request), _wire(request.properties))
        return empty_pb2.Empty()

    async def Diff(self, request: Any, context: Any) -> Any:
        olds = request.old_inputs if request.HasField("old_inputs") else request.olds
        before = wire_plain(_wire(olds))
        after = wire_plain(_wire(request.news))
        changed = changed_inputs(before, after)
        return proto.DiffResponse(
            changes=proto.DiffResponse.DIFF_SOME if changed else proto.DiffResponse.DIFF_NONE,
            diffs=changed,
            detailedDiff={k: proto.PropertyDiff(kind=proto.PropertyDiff.UPDATE) for k in changed},
            hasDetailedDiff=True,
        )


def main(package: str, engine: str) -> None:
    import grpc.aio  # noqa: PLC0415 - only the plugin process serves gRPC
    from pulumi.runtime._grpc_settings import _GRPC_CHANNEL_OPTIONS  # noqa: PLC0415
    from pulumi.runtime.proto import provider_pb2_grpc  # noqa: PLC0415

    async def serve() -> None:
        grpc_server = grpc.aio.server(options=_GRPC_CHANNEL_OPTIONS)
        servicer = _Servicer(sys.argv[1:], schema.plugin_version(package), StandIn(package), engine)
        provider_pb2_grpc.add_ResourceProviderServicer_to_server(servicer, grpc_server)
        port = grpc_server.add_insecure_port(address="127.0.0.1:0")
        await grpc_server.start()
        sys.stdout.write(f"{port}\n")
        sys.stdout.flush()
        await grpc_server.wait_for_termination()

    asyncio.run(serve())
