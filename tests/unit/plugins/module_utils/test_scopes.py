from __future__ import annotations

import pytest

from ansible_collections.onedrive.connection.plugins.module_utils import scopes
from ansible_collections.onedrive.connection.plugins.module_utils.errors import OneDriveError

SEED = "offline_access User.Read Files.Read Files.Read.All"


def test_seed_scopes_with_spaces_are_split():
    assert scopes.validate([SEED]) == ["offline_access", "User.Read", "Files.Read", "Files.Read.All"]
    assert scopes.validate(f"  {SEED}\n") == ["offline_access", "User.Read", "Files.Read", "Files.Read.All"]


def test_items_may_mix_single_and_several_names():
    assert scopes.split(["offline_access", "User.Read  Files.Read"]) == ["offline_access", "User.Read", "Files.Read"]


@pytest.mark.parametrize(
    "scope, short",
    [
        ("https://graph.microsoft.com/Files.Read", "Files.Read"),
        ("https://graph.microsoft.us/Files.Read", "Files.Read"),
        ("https://dod-graph.microsoft.us/User.Read", "User.Read"),
        ("https://microsoftgraph.chinacloudapi.cn/Files.Read.All", "Files.Read.All"),
        ("https://GRAPH.microsoft.com/Files.Read", "Files.Read"),
        ("https://graph.microsoft.com/.default", ".default"),
        ("Files.Read", "Files.Read"),
        ("offline_access", "offline_access"),
        ("https://outlook.office.com/Mail.Read", "https://outlook.office.com/Mail.Read"),
        ("http://graph.microsoft.com/Files.Read", "http://graph.microsoft.com/Files.Read"),
        ("api://3fa3ec6b-0d9b-4d0b-9a4e-5d6c0f2b7a11/access", "api://3fa3ec6b-0d9b-4d0b-9a4e-5d6c0f2b7a11/access"),
    ],
)
def test_normalise(scope, short):
    assert scopes.normalise(scope) == short


def test_comparison_ignores_case_and_graph_prefix():
    granted = ["https://graph.microsoft.com/files.read", "User.Read"]
    assert scopes.contains(granted, "Files.Read")
    assert scopes.missing(["offline_access", "FILES.READ", "user.read", "Files.ReadWrite"], granted) == [
        "offline_access",
        "Files.ReadWrite",
    ]


def test_unique_keeps_first_spelling():
    assert scopes.unique(["Files.Read", "https://graph.microsoft.com/files.read", "files.READ", "User.Read"]) == [
        "Files.Read",
        "User.Read",
    ]


def test_granted_normalises_the_response_scope():
    assert scopes.granted("https://graph.microsoft.com/Files.Read https://graph.microsoft.com/User.Read openid") == [
        "Files.Read",
        "User.Read",
        "openid",
    ]
    assert scopes.granted(None) is None


@pytest.mark.parametrize("value", [[], [""], ["   "]])
def test_validate_rejects_empty(value):
    with pytest.raises(OneDriveError, match="must not be empty") as raised:
        scopes.validate(value)
    assert raised.value.reason == "invalid_option"


@pytest.mark.parametrize("bad", ['Files"Read', "Files\\Read", "Dateien.Lesen\u00e4", "Files.Read\x00"])
def test_validate_rejects_characters_outside_the_scope_token_grammar(bad):
    with pytest.raises(OneDriveError, match="printable ASCII"):
        scopes.validate(["User.Read", bad])
