"""The discovery documents (RFC 7644 §4), built from scim2-models' own schema definitions."""

from __future__ import annotations

from functools import cache

from scim2_models import (
    AuthenticationScheme,
    Bulk,
    ChangePassword,
    Context,
    EnterpriseUser,
    ETag,
    Filter,
    Group,
    Patch,
    ResourceType,
    ServiceProviderConfig,
    Sort,
    User,
)

MAX_RESULTS = 200
_OUT = Context.RESOURCE_QUERY_RESPONSE


def _with_meta(document: dict, kind: str, location: str) -> dict:
    return {**document, "meta": {"resourceType": kind, "location": location}}


def service_provider_config(base: str, docs_url: str) -> dict:
    config = ServiceProviderConfig(
        documentation_uri=docs_url,
        patch=Patch(supported=True),
        bulk=Bulk(supported=False, max_operations=0, max_payload_size=0),
        filter=Filter(supported=True, max_results=MAX_RESULTS),
        change_password=ChangePassword(supported=False),
        sort=Sort(supported=False),
        etag=ETag(supported=False),
        authentication_schemes=[AuthenticationScheme(
            type="oauthbearertoken", name="Bearer token",
            description="A SCIM token an admin creates on Administration → SCIM provisioning.",
            primary=True)],
    )
    document = config.model_dump(scim_ctx=_OUT)
    return _with_meta(document, "ServiceProviderConfig", f"{base}/ServiceProviderConfig")


@cache
def _resource_types() -> list[dict]:
    return [ResourceType.from_resource(model).model_dump(scim_ctx=_OUT)
            for model in (User[EnterpriseUser], Group)]


def resource_types(base: str) -> list[dict]:
    return [_with_meta(rt, "ResourceType", f"{base}/ResourceTypes/{rt['id']}") for rt in _resource_types()]


@cache
def _schemas() -> list[dict]:
    return [model.to_schema().model_dump(scim_ctx=_OUT) for model in (User, EnterpriseUser, Group)]


def schemas(base: str) -> list[dict]:
    return [_with_meta(s, "Schema", f"{base}/Schemas/{s['id']}") for s in _schemas()]
