"""The tenant path segment and who may sign in to which app through it."""

from __future__ import annotations

from dataclasses import dataclass

from .config import App, Fixtures, Tenant, User
from .errors import OAuthError, missing_parameter, unknown_client, unknown_tenant, user_not_in_directory

WORK_ONLY = frozenset({"AzureADMyOrg", "AzureADMultipleOrgs"})


@dataclass(frozen=True)
class Authority:
    """The first path segment: common, organizations, consumers, a tenant GUID or a verified domain."""

    segment: str
    kind: str  # common | organizations | consumers | tenant
    tenant: Tenant | None = None

    @property
    def directory(self) -> str:
        return self.tenant.id if self.tenant else self.segment

    @property
    def path_segment(self) -> str:
        """What discovery puts in endpoint URLs: Microsoft swaps verified domains for the tenant GUID."""
        return self.tenant.id if self.tenant else self.segment


def resolve(fixtures: Fixtures, segment: str) -> Authority:
    lower = segment.lower()
    if lower in ("common", "organizations", "consumers"):
        return Authority(segment, lower)
    if lower == fixtures.consumers_tenant_id:
        return Authority(segment, "consumers")
    tenant = fixtures.tenant(lower)
    if tenant is None:
        raise unknown_tenant(segment)
    return Authority(segment, "tenant", tenant)


def issuer_tenant(fixtures: Fixtures, authority: Authority) -> str:
    """The tenant part of the issuer in the discovery document ({tenantid} is literal, as Microsoft's)."""
    if authority.kind == "consumers":
        return fixtures.consumers_tenant_id
    return authority.tenant.id if authority.tenant else "{tenantid}"


def registered_app(fixtures: Fixtures, client_id: str | None, authority: Authority) -> App:
    """The app a request names, or Microsoft's error for a missing or unknown client_id."""
    if not client_id:
        raise missing_parameter("client_id")
    app = fixtures.app(client_id)
    if app is None:
        raise unknown_client(client_id, authority.directory)
    return app


def check_app(app: App, authority: Authority) -> None:
    """Refuse an app the authority cannot serve at all, whoever signs in."""
    if app.audience == "AzureADMyOrg":
        if authority.kind in ("common", "organizations"):
            raise OAuthError(
                "invalid_request", 50194,
                f"Application '{app.client_id}'({app.name}) is not configured as a multi-tenant application. "
                "Usage of the /common endpoint is not supported for such applications created after "
                "'10/15/2018'. Use a tenant-specific endpoint or configure the application to be multi-tenant.")
        if authority.tenant is None or authority.tenant.id != app.home_tenant_id:
            raise unknown_client(app.client_id, authority.directory)
    elif app.audience == "AzureADMultipleOrgs" and authority.kind == "consumers":
        raise unknown_client(app.client_id, "Microsoft Accounts")
    elif app.audience == "PersonalMicrosoftAccount" and authority.kind in ("organizations", "tenant"):
        raise unknown_client(app.client_id, authority.directory)


def check_user(app: App, authority: Authority, user: User) -> None:
    """Refuse a user this app, through this authority, does not admit."""
    if user.personal:
        refused = app.audience in WORK_ONLY or authority.kind in ("organizations", "tenant")
    else:
        refused = (
            app.audience == "PersonalMicrosoftAccount"
            or authority.kind == "consumers"
            or (authority.tenant is not None and authority.tenant.id != user.tenant_id)
            or (app.audience == "AzureADMyOrg" and user.tenant_id != app.home_tenant_id)
        )
    if refused:
        raise user_not_in_directory(user.login, user.personal, authority.directory, app.client_id)
