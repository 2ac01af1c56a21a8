"""SCIM 2.0 at `/scim/v2` (outside `/api/v1` and its OpenAPI document): Users, Groups and the
discovery endpoints, for one organisation per bearer token, with errors in SCIM's format."""

from __future__ import annotations

from typing import Any

import pydantic
from flask import Blueprint, Response, current_app, g, request
from scim2_models import (
    AuthenticationScheme,
    Bulk,
    ChangePassword,
    Context,
    EnterpriseUser,
    ETag,
    Filter,
    Group,
    InvalidSyntaxException,
    InvalidValueException,
    ListResponse,
    NotFoundException,
    Patch,
    ResourceType,
    SCIMException,
    ServiceProviderConfig,
    Sort,
    UnauthorizedException,
)
from werkzeug.exceptions import HTTPException

from app import clock, db
from app.auth.bearer import bearer_token
from app.errors import AppError
from app.fields import INT32_MAX
from app.identity import scim

bp = Blueprint("scim", __name__, url_prefix="/scim/v2")

SCIM_MIMETYPE = "application/scim+json"


def _base_url() -> str:
    return request.host_url.rstrip("/") + bp.url_prefix  # type: ignore[operator]


def _respond(
    payload: dict[str, Any], status: int = 200, *, location: str | None = None
) -> Response:
    response = current_app.response_class(
        current_app.json.dumps(payload), status=status, mimetype=SCIM_MIMETYPE
    )
    if location:
        response.headers["Location"] = location
    return response


def _error(status: int, detail: str, scim_type: str | None = None) -> Response:
    body: dict[str, Any] = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
        "status": str(status),
        "detail": detail,
    }
    if scim_type:
        body["scimType"] = scim_type
    response = _respond(body, status)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="scim"'
    return response


@bp.errorhandler(SCIMException)
def _scim_error(error: SCIMException) -> Response:
    rendered = error.to_error()
    return _error(int(rendered.status or 400), rendered.detail or "", rendered.scim_type)


@bp.errorhandler(pydantic.ValidationError)
def _invalid(error: pydantic.ValidationError) -> Response:
    problems = "; ".join(
        f"{'.'.join(str(part) for part in e['loc'])}: {e['msg']}" for e in error.errors()[:10]
    )
    return _error(400, f"Invalid payload: {problems}", "invalidValue")


@bp.errorhandler(AppError)
def _app_error(error: AppError) -> Response:
    return _error(error.status, error.detail)


@bp.errorhandler(HTTPException)
def _http_error(error: HTTPException) -> Response:
    # A 400 from the framework is a body the app's JSON parser refused (malformed, too deep,
    # lone surrogates), before this blueprint's own reading: SCIM calls that invalidSyntax.
    scim_type = "invalidSyntax" if error.code == 400 else None
    return _error(error.code or 500, error.description or "", scim_type)


@bp.before_request
def _authenticate() -> None:
    """The organisation is the token's, whatever the request says."""
    token = bearer_token()
    org_id = scim.organisation_of_token(db.session(), token=token) if token else None
    if org_id is None:
        raise UnauthorizedException(detail="A valid SCIM bearer token is required.")
    g.scim_org_id = org_id


def _org_id() -> str:
    org_id: str = g.scim_org_id
    return org_id


def _body() -> Any:
    body = request.get_json(force=True, silent=True)
    if not isinstance(body, dict):
        raise InvalidSyntaxException(detail="The body must be a JSON object.")
    return body


def _int_arg(name: str) -> int | None:
    value = request.args.get(name)
    if value is None or value == "":
        return None
    try:
        number = int(value)
    except ValueError:
        raise InvalidValueException(detail=f"{name} must be an integer.") from None
    # It becomes an OFFSET or LIMIT in SQL, where a number past 64 bits was a 500.
    if abs(number) > INT32_MAX:
        raise InvalidValueException(detail=f"{name} must be at most {INT32_MAX}.")
    return number


# --- discovery ---------------------------------------------------------------------------

_RESOURCE_TYPES = (ResourceType.from_resource(scim.ScimUser), ResourceType.from_resource(Group))
_SCHEMAS = (scim.ScimUser.to_schema(), Group.to_schema(), EnterpriseUser.to_schema())


def _with_location(resource: Any, path: str) -> dict[str, Any]:
    payload: dict[str, Any] = resource.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)
    payload.setdefault("meta", {})
    payload["meta"].update(
        {"resourceType": type(resource).__name__, "location": _base_url() + path}
    )
    return payload


@bp.get("/ServiceProviderConfig")
def service_provider_config() -> Response:
    config = ServiceProviderConfig(
        patch=Patch(supported=True),
        bulk=Bulk(supported=False, max_operations=0, max_payload_size=0),
        filter=Filter(supported=True, max_results=scim.MAX_COUNT),
        change_password=ChangePassword(supported=False),
        sort=Sort(supported=False),
        etag=ETag(supported=False),
        authentication_schemes=[
            AuthenticationScheme(
                type=AuthenticationScheme.Type.oauthbearertoken,
                name="Bearer token",
                description="A token from POST /api/v1/admin/integrations/scim/token",
                primary=True,
            )
        ],
    )
    return _respond(_with_location(config, "/ServiceProviderConfig"))


def _list(items: list[dict[str, Any]]) -> Response:
    return _respond(
        {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
            "totalResults": len(items),
            "startIndex": 1,
            "itemsPerPage": len(items),
            "Resources": items,
        }
    )


@bp.get("/ResourceTypes")
def resource_types() -> Response:
    return _list([_with_location(t, f"/ResourceTypes/{t.id}") for t in _RESOURCE_TYPES])


@bp.get("/ResourceTypes/<name>")
def resource_type(name: str) -> Response:
    for resource_type in _RESOURCE_TYPES:
        if resource_type.id == name:
            return _respond(_with_location(resource_type, f"/ResourceTypes/{name}"))
    raise NotFoundException(detail=f"No resource type {name}.")


@bp.get("/Schemas")
def schemas() -> Response:
    return _list([_with_location(s, f"/Schemas/{s.id}") for s in _SCHEMAS])


@bp.get("/Schemas/<schema_id>")
def schema(schema_id: str) -> Response:
    for described in _SCHEMAS:
        if described.id == schema_id:
            return _respond(_with_location(described, f"/Schemas/{schema_id}"))
    raise NotFoundException(detail=f"No schema {schema_id}.")


# --- users -------------------------------------------------------------------------------


def _user_body(account: Any, context: Context) -> dict[str, Any]:
    payload: dict[str, Any] = scim.user_resource(account, _base_url()).model_dump(scim_ctx=context)
    return payload


@bp.get("/Users")
def list_users() -> Response:
    found: ListResponse[Any] = scim.list_users(
        db.session(),
        org_id=_org_id(),
        filter_text=request.args.get("filter"),
        start_index=_int_arg("startIndex"),
        count=_int_arg("count"),
        base_url=_base_url(),
    )
    return _respond(found.model_dump(scim_ctx=Context.SEARCH_RESPONSE))


@bp.post("/Users")
def create_user() -> Response:
    resource = scim.parse_user(_body(), Context.RESOURCE_CREATION_REQUEST)
    account = scim.create_user(db.session(), org_id=_org_id(), resource=resource, now=clock.now())
    db.session.commit()
    body = _user_body(account, Context.RESOURCE_CREATION_RESPONSE)
    return _respond(body, 201, location=body["meta"]["location"])


@bp.get("/Users/<user_id>")
def get_user(user_id: str) -> Response:
    account = scim.get_user(db.session(), org_id=_org_id(), user_id=user_id)
    return _respond(_user_body(account, Context.RESOURCE_QUERY_RESPONSE))


@bp.put("/Users/<user_id>")
def replace_user(user_id: str) -> Response:
    resource = scim.parse_user(_body(), Context.RESOURCE_REPLACEMENT_REQUEST)
    account = scim.replace_user(
        db.session(), org_id=_org_id(), user_id=user_id, resource=resource, now=clock.now()
    )
    db.session.commit()
    return _respond(_user_body(account, Context.RESOURCE_REPLACEMENT_RESPONSE))


@bp.patch("/Users/<user_id>")
def patch_user(user_id: str) -> Response:
    account = scim.patch_user(
        db.session(),
        org_id=_org_id(),
        user_id=user_id,
        payload=_body(),
        base_url=_base_url(),
        now=clock.now(),
    )
    db.session.commit()
    return _respond(_user_body(account, Context.RESOURCE_PATCH_RESPONSE))


@bp.delete("/Users/<user_id>")
def delete_user(user_id: str) -> Response:
    scim.deactivate_user(db.session(), org_id=_org_id(), user_id=user_id, now=clock.now())
    db.session.commit()
    return Response(status=204)


# --- groups ------------------------------------------------------------------------------


def _group_body(department: Any, context: Context) -> dict[str, Any]:
    payload: dict[str, Any] = scim.group_resource(db.session(), department, _base_url()).model_dump(
        scim_ctx=context
    )
    excluded = {a.strip().casefold() for a in request.args.get("excludedAttributes", "").split(",")}
    if "members" in excluded:  # what directory sync clients ask for big groups
        payload.pop("members", None)
    return payload


@bp.get("/Groups")
def list_groups() -> Response:
    found: ListResponse[Any] = scim.list_groups(
        db.session(),
        org_id=_org_id(),
        filter_text=request.args.get("filter"),
        start_index=_int_arg("startIndex"),
        count=_int_arg("count"),
        base_url=_base_url(),
    )
    payload = found.model_dump(scim_ctx=Context.SEARCH_RESPONSE)
    excluded = {a.strip().casefold() for a in request.args.get("excludedAttributes", "").split(",")}
    if "members" in excluded:
        for item in payload.get("Resources", []):
            item.pop("members", None)
    return _respond(payload)


@bp.post("/Groups")
def create_group() -> Response:
    resource = scim.parse_group(_body(), Context.RESOURCE_CREATION_REQUEST)
    department = scim.create_group(db.session(), org_id=_org_id(), resource=resource)
    db.session.commit()
    body = _group_body(department, Context.RESOURCE_CREATION_RESPONSE)
    return _respond(body, 201, location=body["meta"]["location"])


@bp.get("/Groups/<group_id>")
def get_group(group_id: str) -> Response:
    department = scim.get_group(db.session(), org_id=_org_id(), group_id=group_id)
    return _respond(_group_body(department, Context.RESOURCE_QUERY_RESPONSE))


@bp.put("/Groups/<group_id>")
def replace_group(group_id: str) -> Response:
    resource = scim.parse_group(_body(), Context.RESOURCE_REPLACEMENT_REQUEST)
    department = scim.replace_group(
        db.session(), org_id=_org_id(), group_id=group_id, resource=resource
    )
    db.session.commit()
    return _respond(_group_body(department, Context.RESOURCE_REPLACEMENT_RESPONSE))


@bp.patch("/Groups/<group_id>")
def patch_group(group_id: str) -> Response:
    department = scim.patch_group(
        db.session(), org_id=_org_id(), group_id=group_id, payload=_body(), base_url=_base_url()
    )
    db.session.commit()
    return _respond(_group_body(department, Context.RESOURCE_PATCH_RESPONSE))


@bp.delete("/Groups/<group_id>")
def delete_group(group_id: str) -> Response:
    scim.delete_group(db.session(), org_id=_org_id(), group_id=group_id)
    return Response(status=204)
