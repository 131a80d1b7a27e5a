"""Fixtures: tenants, apps and users the emulator knows, loaded from YAML."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .answers import DRIVE_ANSWERS

DEFAULT_FIXTURES = Path(__file__).with_name("fixtures.yaml")

AUDIENCES = frozenset({
    "AzureADMyOrg",
    "AzureADMultipleOrgs",
    "AzureADandPersonalMicrosoftAccount",
    "PersonalMicrosoftAccount",
})


@dataclass(frozen=True)
class Tenant:
    name: str
    id: str
    domains: tuple[str, ...]


@dataclass(frozen=True)
class Drive:
    id: str
    type: str
    total: int
    used: int
    deleted: int

    @property
    def remaining(self) -> int:
        return max(self.total - self.used, 0)

    @property
    def state(self) -> str:
        # OneDrive's thresholds: under 10% left is "nearing", under 1% "critical".
        if self.used >= self.total:
            return "exceeded"
        if self.remaining < self.total / 100:
            return "critical"
        if self.remaining < self.total / 10:
            return "nearing"
        return "normal"


@dataclass(frozen=True)
class User:
    login: str
    id: str
    personal: bool
    tenant_id: str
    given_name: str
    surname: str
    mfa: bool
    drive: Drive | None
    drive_answer: str | None = None  # an answers.DRIVE_ANSWERS name Graph gives for a missing drive
    roles: tuple[str, ...] = ()  # Microsoft Entra directory roles, such as "Global Administrator"

    @property
    def display_name(self) -> str:
        return f"{self.given_name} {self.surname}"

    @property
    def mail(self) -> str | None:
        return None if self.personal else self.login

    @property
    def oid(self) -> str:
        """Object id in tokens: personal accounts embed their 16-hex id in a zero-padded GUID."""
        if self.personal:
            return f"00000000-0000-0000-{self.id[:4]}-{self.id[4:]}"
        return self.id


@dataclass(frozen=True)
class App:
    client_id: str
    name: str
    audience: str
    home_tenant_id: str
    allow_public_client_flows: bool
    secret: str | None
    redirect_uris: tuple[str, ...]
    api_permissions: tuple[str, ...]


@dataclass(frozen=True)
class Fixtures:
    graph_scopes: tuple[str, ...]
    consumers_tenant_id: str
    device_code_expires_in: int
    device_code_interval: int
    tenants: tuple[Tenant, ...]
    apps: tuple[App, ...]
    users: tuple[User, ...]
    # Apps registered at run time through Graph's /applications (applications.py keeps it, under its lock):
    # the login endpoints serve them exactly like the fixtures' own, as soon as Graph has answered.
    registered: dict[str, App] = field(default_factory=dict, compare=False, repr=False)

    def app(self, client_id: str) -> App | None:
        key = client_id.lower()
        return next((a for a in self.apps if a.client_id == key), None) or self.registered.get(key)

    def user(self, login: str) -> User | None:
        return next((u for u in self.users if u.login == login.strip().lower()), None)

    def user_by_id(self, user_id: str) -> User | None:
        return next((u for u in self.users if u.id == user_id), None)

    def tenant(self, name_id_or_domain: str) -> Tenant | None:
        key = name_id_or_domain.lower()
        return next((t for t in self.tenants if key in (t.id, *t.domains)), None)

    def tenant_by_id(self, tenant_id: str) -> Tenant | None:
        return next((t for t in self.tenants if t.id == tenant_id), None)


def load(path: str | Path | None = None) -> Fixtures:
    """Read a fixtures file (the packaged defaults when path is None); ValueError when malformed."""
    source = Path(path) if path else DEFAULT_FIXTURES
    raw = yaml.safe_load(source.read_text(encoding="utf-8"))
    try:
        return _build(raw)
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"{source}: malformed fixtures ({exc!r})") from exc


def _build(raw: dict) -> Fixtures:
    consumers = raw["consumers_tenant_id"].lower()
    tenants = tuple(
        Tenant(t["name"], t["id"].lower(), tuple(d.lower() for d in t.get("domains", ())))
        for t in raw["tenants"]
    )
    tenant_ids = {t.name: t.id for t in tenants} | {"consumers": consumers}
    apps = tuple(_app(a, tenant_ids) for a in raw["apps"])
    users = tuple(_user(u, tenant_ids, consumers) for u in raw["users"])
    device = raw.get("device_code", {})
    return Fixtures(
        graph_scopes=tuple(raw["graph_scopes"]),
        consumers_tenant_id=consumers,
        device_code_expires_in=int(device.get("expires_in", 900)),
        device_code_interval=int(device.get("interval", 5)),
        tenants=tenants,
        apps=apps,
        users=users,
    )


def _app(raw: dict, tenant_ids: dict[str, str]) -> App:
    if raw["audience"] not in AUDIENCES:
        raise ValueError(f"app {raw['client_id']}: unknown audience {raw['audience']!r}")
    return App(
        client_id=raw["client_id"].lower(),
        name=raw["name"],
        audience=raw["audience"],
        home_tenant_id=tenant_ids[raw["home_tenant"]],
        allow_public_client_flows=bool(raw.get("allow_public_client_flows", False)),
        secret=raw.get("secret"),
        redirect_uris=tuple(raw.get("redirect_uris", ())),
        api_permissions=tuple(raw.get("api_permissions", ("User.Read",))),
    )


def _user(raw: dict, tenant_ids: dict[str, str], consumers: str) -> User:
    drive = raw.get("drive")
    tenant_id = tenant_ids[raw["tenant"]]
    drive_answer = raw.get("drive_answer")
    if drive_answer is not None and (drive or drive_answer not in DRIVE_ANSWERS):
        raise ValueError(f"user {raw['login']}: drive_answer needs drive: null and one of {', '.join(DRIVE_ANSWERS)}")
    return User(
        login=raw["login"].lower(),
        id=raw["id"],
        personal=tenant_id == consumers,
        tenant_id=tenant_id,
        given_name=raw["given_name"],
        surname=raw["surname"],
        mfa=bool(raw.get("mfa", False)),
        drive=Drive(
            id=drive["id"],
            type=drive["type"],
            total=int(drive["total"]),
            used=int(drive["used"]),
            deleted=int(drive.get("deleted", 0)),
        ) if drive else None,
        drive_answer=drive_answer,
        roles=tuple(raw.get("roles", ())),
    )
