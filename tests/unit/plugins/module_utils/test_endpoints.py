from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest

from ansible_collections.onedrive.connection.plugins.module_utils.endpoints import (
    endpoints,
    validate_base_url,
    validate_client_id,
    validate_tenant,
)
from ansible_collections.onedrive.connection.plugins.module_utils.errors import OneDriveError

CLIENT_ID = "3fa3ec6b-0d9b-4d0b-9a4e-5d6c0f2b7a11"
NATIVE = "https://login.microsoftonline.com/common/oauth2/nativeclient"


@pytest.mark.parametrize(
    "cloud, login, graph",
    [
        ("public", "https://login.microsoftonline.com", "https://graph.microsoft.com"),
        ("usgov", "https://login.microsoftonline.us", "https://graph.microsoft.us"),
        ("usgov_dod", "https://login.microsoftonline.us", "https://dod-graph.microsoft.us"),
        ("china", "https://login.partner.microsoftonline.cn", "https://microsoftgraph.chinacloudapi.cn"),
    ],
)
def test_cloud_hosts(cloud, login, graph):
    where = endpoints(cloud, "organizations")
    assert where.authorize == f"{login}/organizations/oauth2/v2.0/authorize"
    assert where.token == f"{login}/organizations/oauth2/v2.0/token"
    assert where.graph("/me/drive") == f"{graph}/v1.0/me/drive"


def test_unknown_cloud():
    with pytest.raises(OneDriveError, match="cloud must be one of public, usgov, usgov_dod, china"):
        endpoints("azure_germany")


def test_explicit_urls_override_the_cloud_and_lose_their_trailing_slash():
    where = endpoints("china", "common", "https://127.0.0.1:8443/", "https://proxy.example/graph/")
    assert where.token == "https://127.0.0.1:8443/common/oauth2/v2.0/token"
    assert where.graph("/$batch") == "https://proxy.example/graph/v1.0/$batch"


@pytest.mark.parametrize(
    "tenant",
    [
        "common",
        "organizations",
        "consumers",
        "Common",
        "9188040d-6c67-4c5b-b112-36a304b66dad",
        "contoso.onmicrosoft.com",
        "xn--mnchen-3ya.de",
        "a-b.example",
    ],
)
def test_valid_tenants(tenant):
    assert validate_tenant(tenant) == tenant


@pytest.mark.parametrize(
    "tenant",
    [
        "",
        "a/b",
        "..",
        ".",
        "contoso..com",
        "common/../x",
        "?x=",
        "common?x=1",
        "common#x",
        "%2f",
        "contoso%2ecom",
        " common",
        "common\n",
        "con toso.com",
        "contoso",
        "-contoso.com",
        "contoso-.com",
        "münchen.de",
        "contoso.com\\x",
        "a" * 64 + ".com",
        ".".join(["a" * 60] * 5),
    ],
)
def test_tenants_that_could_alter_the_url_are_rejected(tenant):
    with pytest.raises(OneDriveError) as raised:
        validate_tenant(tenant)
    assert raised.value.reason == "invalid_option"


@pytest.mark.parametrize("client_id", [CLIENT_ID, CLIENT_ID.upper()])
def test_valid_client_ids(client_id):
    assert validate_client_id(client_id) == client_id


@pytest.mark.parametrize(
    "client_id",
    ["", "my-app", CLIENT_ID.replace("-", ""), f"{{{CLIENT_ID}}}", f"urn:uuid:{CLIENT_ID}", CLIENT_ID + "\n"],
)
def test_client_id_must_be_a_guid(client_id):
    with pytest.raises(OneDriveError, match="GUID"):
        validate_client_id(client_id)


@pytest.mark.parametrize(
    "url, expected",
    [
        ("https://login.example", "https://login.example"),
        ("https://login.example/", "https://login.example"),
        ("http://127.0.0.1:8080/prefix/", "http://127.0.0.1:8080/prefix"),
    ],
)
def test_base_urls(url, expected):
    assert validate_base_url(url, "login_url") == expected


@pytest.mark.parametrize(
    "url",
    [
        "login.example",
        "ftp://login.example",
        "https://",
        "https:///path",
        "https://login.example/?x=1",
        "https://login.example/?",
        "https://login.example/#top",
        "https://user:secret@login.example",
        "https://login.example:port",
        "https://login.example:0",
        "https://login example",
        " https://login.example",
    ],
)
def test_base_urls_must_be_absolute_http_without_query_or_fragment(url):
    with pytest.raises(OneDriveError, match="login_url must be an absolute http or https URL"):
        validate_base_url(url, "login_url")


def test_authorize_url_percent_encodes_everything():
    url = endpoints().authorize_url(
        client_id=CLIENT_ID,
        redirect_uri=NATIVE,
        scopes=["offline_access", "User.Read", "Files.Read", "Files.Read.All"],
        state="s t&a=te",
        code_challenge="E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        login_hint="zoë.müller@contoso.onmicrosoft.com",
    )
    assert " " not in url and "+" not in url
    assert "scope=offline_access%20User.Read%20Files.Read%20Files.Read.All&" in url
    assert "redirect_uri=https%3A%2F%2Flogin.microsoftonline.com%2Fcommon%2Foauth2%2Fnativeclient&" in url
    assert "login_hint=zo%C3%AB.m%C3%BCller%40contoso.onmicrosoft.com" in url
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == endpoints().authorize
    assert parse_qsl(parts.query) == [
        ("client_id", CLIENT_ID),
        ("response_type", "code"),
        ("redirect_uri", NATIVE),
        ("scope", "offline_access User.Read Files.Read Files.Read.All"),
        ("state", "s t&a=te"),
        ("code_challenge", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"),
        ("code_challenge_method", "S256"),
        ("login_hint", "zoë.müller@contoso.onmicrosoft.com"),
    ]


def test_authorize_url_without_pkce_or_hints():
    url = endpoints("usgov", "contoso.onmicrosoft.us").authorize_url(
        client_id=CLIENT_ID,
        redirect_uri="http://localhost:53682/",
        scopes=["Files.Read"],
        state="x",
        prompt="consent",
        domain_hint="contoso.us",
    )
    query = dict(parse_qsl(urlsplit(url).query))
    assert url.startswith("https://login.microsoftonline.us/contoso.onmicrosoft.us/oauth2/v2.0/authorize?")
    assert "code_challenge" not in query and "code_challenge_method" not in query and "login_hint" not in query
    assert query["prompt"] == "consent" and query["domain_hint"] == "contoso.us"
