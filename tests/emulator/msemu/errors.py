"""Error values and the exact shapes Microsoft gives them (login JSON, redirect parameters, Graph JSON)."""

from __future__ import annotations

from dataclasses import dataclass

from . import ids
from .clock import Clock


class OAuthError(Exception):
    """An identity-platform error: JSON at API endpoints, an error page or error redirect in the browser."""

    def __init__(self, error: str, code: int, message: str, status: int = 400,
                 suberror: str | None = None, claims: str | None = None) -> None:
        super().__init__(f"{error}: AADSTS{code}")
        self.error = error
        self.code = code
        self.message = message
        self.status = status
        self.suberror = suberror
        self.claims = claims


class GraphError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{status} {code}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


@dataclass(frozen=True)
class Diagnostics:
    """The trace/correlation/timestamp triple every login error carries."""

    trace_id: str
    correlation_id: str
    timestamp: str

    @classmethod
    def new(cls, clock: Clock, client_request_id: str | None) -> Diagnostics:
        correlation = client_request_id if client_request_id and ids.is_guid(client_request_id) else ids.guid()
        return cls(ids.guid(), correlation, clock.login_timestamp())

    def describe(self, err: OAuthError) -> str:
        return (f"AADSTS{err.code}: {err.message}\r\nTrace ID: {self.trace_id}\r\n"
                f"Correlation ID: {self.correlation_id}\r\nTimestamp: {self.timestamp}")


def error_uri(base_url: str, code: int) -> str:
    return f"{base_url}/error?code={code}"


def login_error_body(err: OAuthError, diag: Diagnostics, base_url: str) -> dict:
    body = {
        "error": err.error,
        "error_description": diag.describe(err),
        "error_codes": [err.code],
        "timestamp": diag.timestamp,
        "trace_id": diag.trace_id,
        "correlation_id": diag.correlation_id,
        "error_uri": error_uri(base_url, err.code),
    }
    if err.suberror:
        body["suberror"] = err.suberror
    if err.claims:
        body["claims"] = err.claims
    return body


def graph_error_body(err: GraphError, clock: Clock, request_id: str, client_request_id: str) -> dict:
    return {"error": {
        "code": err.code,
        "message": err.message,
        "innerError": {
            "date": clock.utc().strftime("%Y-%m-%dT%H:%M:%S"),
            "request-id": request_id,
            "client-request-id": client_request_id,
        },
    }}


# Errors raised from more than one endpoint.

def require_post(method: str) -> None:
    if method != "POST":
        raise OAuthError("invalid_request", 900561,
                         f"The endpoint only accepts POST requests. Received a {method} request.")


def missing_parameter(name: str) -> OAuthError:
    return OAuthError("invalid_request", 900144,
                      f"The request body must contain the following parameter: '{name}'.")


def unknown_tenant(segment: str) -> OAuthError:
    return OAuthError(
        "invalid_tenant", 90002,
        f"Tenant '{segment}' not found. Check to make sure you have the correct tenant ID and are signing "
        "into the correct cloud. Check with your subscription administrator, this may happen if there are "
        "no active subscriptions for the tenant.")


def unknown_client(client_id: str, directory: str) -> OAuthError:
    return OAuthError(
        "unauthorized_client", 700016,
        f"Application with identifier '{client_id}' was not found in the directory '{directory}'. This can "
        "happen if the application has not been installed by the administrator of the tenant or consented "
        "to by any user in the tenant. You may have sent your authentication request to the wrong tenant.")


def invalid_scope(scope: str) -> OAuthError:
    return OAuthError("invalid_scope", 70011,
                      f"The provided request must include a valid 'scope' input parameter. "
                      f"The provided value for the input parameter 'scope' is not valid. The scope '{scope}' "
                      "does not exist on the resource.")


def not_consented(client_id: str, app_name: str, error: str = "invalid_grant",
                  suberror: str | None = None) -> OAuthError:
    return OAuthError(error, 65001,
                      f"The user or administrator has not consented to use the application with ID '{client_id}' "
                      f"named '{app_name}'. Send an interactive authorization request for this user and resource.",
                      suberror=suberror)


def already_redeemed() -> OAuthError:
    return OAuthError("invalid_grant", 54005,
                      "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use "
                      "an existing refresh token.")


def user_not_in_directory(login: str, personal: bool, directory: str, client_id: str) -> OAuthError:
    idp = "live.com" if personal else "the user's home tenant"
    return OAuthError(
        "invalid_grant", 50020,
        f"User account '{login}' from identity provider '{idp}' does not exist in tenant '{directory}' "
        f"and cannot access the application '{client_id}' in that tenant. The account needs to be added "
        "as an external user in the tenant first.")
