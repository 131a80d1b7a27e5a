"""The control API under /_emulator/: the only way besides the protocol to change emulator state.

    POST   /_emulator/reset                                  restore the default state
    POST   /_emulator/fault    {endpoint, kind, count, status, retry_after, delay, answer}
    GET    /_emulator/fault                                  -> {pending: n}
    POST   /_emulator/latency  {seconds}
    POST   /_emulator/revoke   {user}                        -> {revoked: n}
    POST   /_emulator/clock    {advance}                     -> {now}
    POST   /_emulator/strict   {enabled}
    POST   /_emulator/scope_answer {omit_offline_access, extra, case, full_uris}   how answers write `scope`
    POST   /_emulator/device_answer {interval, expires_in, omit, complete}   how /devicecode answers
    GET    /_emulator/log                                    -> {requests, counts}
    DELETE /_emulator/log
    GET    /_emulator/issued                                 -> {secrets}
    POST   /_emulator/grant    {client_id, user, scopes, tenant} -> token response
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from . import scopes
from .audience import check_app, check_user, resolve
from .errors import OAuthError, unknown_client
from .http import Request, Response, json_response
from .issuance import token_response
from .state import ScopeAnswer

if TYPE_CHECKING:
    from .emulator import Emulator


def _reset(emu: Emulator, args: dict) -> dict:
    emu.reset()
    return {}


def _fault(emu: Emulator, args: dict) -> dict:
    emu.faults.add(args["endpoint"], args["kind"], args.get("count", 1), args.get("status"),
                   args.get("retry_after"), args.get("delay"), args.get("answer"))
    return {}


def _pending_faults(emu: Emulator, args: dict) -> dict:
    return {"pending": emu.faults.pending()}


def _latency(emu: Emulator, args: dict) -> dict:
    emu.faults.set_latency(float(args["seconds"]))
    return {}


def _user(emu: Emulator, login: str):
    user = emu.fixtures.user(login)
    if user is None:
        raise ValueError(f"unknown user {login!r}")
    return user


def _revoke(emu: Emulator, args: dict) -> dict:
    return {"revoked": emu.store.revoke_user(_user(emu, args["user"]).login)}


def _clock(emu: Emulator, args: dict) -> dict:
    emu.clock.advance(float(args["advance"]))
    return {"now": emu.clock.now()}


def _strict(emu: Emulator, args: dict) -> dict:
    with emu.store.lock:
        emu.store.strict = bool(args.get("enabled", True))
    return {}


def _scope_answer(emu: Emulator, args: dict) -> dict:
    case = args.get("case")
    if case not in (None, "upper", "lower"):
        raise ValueError("case must be upper, lower or null")
    with emu.store.lock:
        emu.store.scope_answer = ScopeAnswer(
            omit_offline_access=bool(args.get("omit_offline_access", False)),
            extra=tuple(args.get("extra") or ()),
            case=case,
            full_uris=args.get("full_uris"),
        )
    return {}


def _device_answer(emu: Emulator, args: dict) -> dict:
    from .devicecode import device_answer

    with emu.store.lock:
        emu.store.device_answer = device_answer(args)
    return {}


def _log(emu: Emulator, args: dict) -> dict:
    return emu.log.snapshot()


def _clear_log(emu: Emulator, args: dict) -> dict:
    emu.log.clear()
    return {}


def _issued(emu: Emulator, args: dict) -> dict:
    return {"secrets": emu.store.secrets()}


def _grant(emu: Emulator, args: dict) -> dict:
    """Mint a grant as if the user had signed in and consented, with the same audience rules."""
    authority = resolve(emu.fixtures, args.get("tenant", "common"))
    app = emu.fixtures.app(args["client_id"])
    if app is None:
        raise unknown_client(args["client_id"], authority.directory)
    check_app(app, authority)
    user = _user(emu, args["user"])
    check_user(app, authority, user)
    raw = args["scopes"]
    requested = scopes.parse(raw if isinstance(raw, str) else " ".join(raw), emu.fixtures.graph_scopes, app)
    emu.store.consent(user.login, app.client_id, requested)
    grant = emu.store.new_grant(app.client_id, user.login, requested)
    return token_response(emu, grant, requested)


ACTIONS: dict[tuple[str, str], Callable[[Emulator, dict], dict]] = {
    ("POST", "reset"): _reset,
    ("POST", "fault"): _fault,
    ("GET", "fault"): _pending_faults,
    ("POST", "latency"): _latency,
    ("POST", "revoke"): _revoke,
    ("POST", "clock"): _clock,
    ("POST", "strict"): _strict,
    ("POST", "scope_answer"): _scope_answer,
    ("POST", "device_answer"): _device_answer,
    ("GET", "log"): _log,
    ("DELETE", "log"): _clear_log,
    ("GET", "issued"): _issued,
    ("POST", "grant"): _grant,
}


def handle(emu: Emulator, request: Request) -> Response:
    action = request.path.removeprefix("/_emulator/").strip("/")
    handler = ACTIONS.get((request.method, action))
    if handler is None:
        return json_response(404, {"error": "not_found", "error_description": f"no control action {request.method} "
                                                                              f"/_emulator/{action}"})
    try:
        args = request.json() or {}
        if not isinstance(args, dict):
            raise ValueError("the body must be a JSON object")
        return json_response(200, handler(emu, args))
    except OAuthError as err:
        return json_response(400, {"error": err.error, "error_description": f"AADSTS{err.code}: {err.message}"})
    except KeyError as exc:
        return json_response(400, {"error": "invalid_request", "error_description": f"missing field {exc}"})
    except (ValueError, TypeError) as exc:
        return json_response(400, {"error": "invalid_request", "error_description": str(exc)})
