"""Graph: GET /v1.0/me, GET /v1.0/me/drive and POST /v1.0/$batch (JSON batching of those two)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable
from urllib.parse import urlsplit

from . import answers, faults, ids
from .config import User
from .errors import GraphError, graph_error_body
from .http import GRAPH_JSON_TYPE, Request, Response
from .scopes import GRAPH_APP_ID, allows_drive, allows_me
from .state import AccessToken

if TYPE_CHECKING:
    from .emulator import Emulator

BATCH_LIMIT = 20
INNER_HEADERS = {"Cache-Control": "no-cache", "Content-Type": GRAPH_JSON_TYPE}


def _authenticate(emu: Emulator, request: Request) -> AccessToken:
    scheme, _, token = (request.header("Authorization") or "").partition(" ")
    token = token.strip()
    record = None
    if scheme.lower() != "bearer" or not token:
        message = "Access token is empty."
    else:
        emu.store.remember_secret(token)
        with emu.store.lock:
            record = emu.store.access_tokens.get(token)
        if record is None:
            # Graph's wording differs for JWT-shaped and opaque (consumer) tokens.
            message = ("Access token validation failure. Invalid audience." if token.count(".") == 2
                       else "CompactToken parsing failed with error code: 80049217")
        elif emu.clock.now() >= record.expires_at:
            message = "Lifetime validation failed, the token is expired."
        else:
            return record
    challenge = (f'Bearer realm="", authorization_uri="{emu.base_url}/common/oauth2/authorize", '
                 f'client_id="{GRAPH_APP_ID}"')
    raise GraphError(401, "InvalidAuthenticationToken", message, {"WWW-Authenticate": challenge})


def _me(emu: Emulator, token: AccessToken, user: User) -> dict:
    if not allows_me(token.scopes):
        raise GraphError(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
    return {
        "@odata.context": f"{emu.base_url}/v1.0/$metadata#users/$entity",
        "businessPhones": [],
        "displayName": user.display_name,
        "givenName": user.given_name,
        "jobTitle": None,
        "mail": user.mail,
        "mobilePhone": None,
        "officeLocation": None,
        "preferredLanguage": None if user.personal else "en-US",
        "surname": user.surname,
        "userPrincipalName": user.login,
        "id": user.id,
    }


def _drive(emu: Emulator, token: AccessToken, user: User) -> dict:
    if not allows_drive(token.scopes):
        raise GraphError(403, "accessDenied", "Access denied. You do not have permission to perform this action "
                                              "or access this resource.")
    drive = user.drive
    if drive is None:
        # No drive: the user's own answer, else what Graph answers for a OneDrive never provisioned (no license).
        raise answers.DRIVE_ANSWERS[user.drive_answer or "mysite_not_found"].exception()
    owner = {"displayName": user.display_name, "id": user.id}
    if user.mail:
        owner["email"] = user.mail
    return {
        "@odata.context": f"{emu.base_url}/v1.0/$metadata#drives/$entity",
        "description": "",
        "id": drive.id,
        "driveType": drive.type,
        "name": "OneDrive",
        "webUrl": f"{emu.base_url}/personal/{user.id}/Documents",
        "owner": {"user": owner},
        "quota": {"deleted": drive.deleted, "remaining": drive.remaining, "state": drive.state,
                  "total": drive.total, "used": drive.used},
    }


RESOURCES: dict[str, Callable[[Emulator, AccessToken, User], dict]] = {"me": _me, "drive": _drive}


def _method_not_allowed() -> GraphError:
    return GraphError(405, "Request_BadRequest", "Specified HTTP method is not allowed for the request target.")


def _resource_handler(name: str) -> Callable[[Emulator, Request], Response]:
    def handler(emu: Emulator, request: Request) -> Response:
        try:
            if request.method != "GET":
                raise _method_not_allowed()
            token = _authenticate(emu, request)
            body = RESOURCES[name](emu, token, emu.fixtures.user(token.user_login))
        except GraphError as err:
            return emu.graph_error(request, err)
        return emu.graph_json(request, 200, body)
    return handler


me = _resource_handler("me")
drive = _resource_handler("drive")


def unknown(emu: Emulator, request: Request) -> Response:
    segment = request.path.rstrip("/").rsplit("/", 1)[-1]
    return emu.graph_error(request, GraphError(400, "BadRequest", f"Resource not found for the segment '{segment}'."))


def batch(emu: Emulator, request: Request) -> Response:
    try:
        if request.method != "POST":
            raise _method_not_allowed()
        token = _authenticate(emu, request)
        items = _batch_items(request)
    except GraphError as err:
        return emu.graph_error(request, err)
    user = emu.fixtures.user(token.user_login)
    # Graph does not keep the request order; answering in reverse keeps clients honest about ids.
    responses = [_inner(emu, token, user, item) for item in reversed(items)]
    return emu.graph_json(request, 200, {"responses": responses})


def refused_inside(emu: Emulator, request: Request, err: GraphError) -> Response:
    """A $batch answered 200 whose every sub-request carries ``err``, as Graph may answer a refused token."""
    try:
        items = _batch_items(request)
    except GraphError as invalid:
        return emu.graph_error(request, invalid)
    return emu.graph_json(request, 200, {"responses": [_inner_error(emu, item, err) for item in reversed(items)]})


def _batch_items(request: Request) -> list[dict]:
    invalid = GraphError(400, "BadRequest", "Invalid batch payload format.")
    try:
        payload = request.json()
    except ValueError:
        raise invalid from None
    items = payload.get("requests") if isinstance(payload, dict) else None
    if not isinstance(items, list) or not items:
        raise invalid
    if len(items) > BATCH_LIMIT:
        raise GraphError(400, "BadRequest", f"The number of batch requests exceeds the limit of {BATCH_LIMIT}.")
    if not all(isinstance(i, dict) and i.get("id") and i.get("url") and i.get("method") for i in items):
        raise GraphError(400, "BadRequest", "Each batch request needs an id, a method and a url.")
    if len({str(i["id"]) for i in items}) != len(items):
        raise GraphError(400, "BadRequest", "Batch request ids must be unique.")
    return items


def _inner(emu: Emulator, token: AccessToken, user: User, item: dict) -> dict:
    path = urlsplit(str(item["url"])).path.strip("/").lower()
    name = {"me": "me", "me/drive": "drive"}.get(path)
    try:
        if name is None:
            raise GraphError(400, "BadRequest", f"Resource not found for the segment '{path}'.")
        if str(item["method"]).upper() != "GET":
            raise _method_not_allowed()
        fault = emu.faults.take(name, None)
        if fault is not None and not faults.carry_out(fault):
            return _inner_fault(emu, item, fault, name)
        body = RESOURCES[name](emu, token, user)
    except GraphError as err:
        return _inner_error(emu, item, err)
    return {"id": str(item["id"]), "status": 200, "headers": dict(INNER_HEADERS), "body": body}


def _inner_error(emu: Emulator, item: dict, err: GraphError) -> dict:
    request_id = ids.guid()
    client_request_id = (item.get("headers") or {}).get("client-request-id") or request_id
    return {"id": str(item["id"]), "status": err.status, "headers": dict(INNER_HEADERS, **err.headers),
            "body": graph_error_body(err, emu.clock, request_id, client_request_id)}


def _inner_fault(emu: Emulator, item: dict, fault: faults.Fault, name: str) -> dict:
    """A fault on me/drive inside a batch: the matching inner response carries it."""
    if fault.kind == "status":
        return _inner_error(emu, item, faults.graph_fault_error(fault, name))
    if fault.kind == "answer":
        return _inner_error(emu, item, faults.answer_error(fault))
    headers = {"Content-Type": "text/html" if fault.kind == "html" else "text/plain"}
    if fault.retry_after:
        headers["Retry-After"] = fault.retry_after
    body = faults.proxy_page(fault.status) if fault.kind == "html" else faults.reason(fault.status)
    return {"id": str(item["id"]), "status": fault.status, "headers": headers, "body": body}
