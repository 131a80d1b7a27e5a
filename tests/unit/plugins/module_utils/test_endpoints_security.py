"""login_url and graph_url: https except for a loopback host, and never any credentials in the URL (issue 20)."""

from __future__ import annotations

import pytest

from ansible_collections.onedrive.connection.plugins.module_utils.endpoints import endpoints, validate_base_url
from ansible_collections.onedrive.connection.plugins.module_utils.errors import OneDriveError

OPTIONS = ["login_url", "graph_url"]
PASSWORD = "Pa55-w0rd"


def refusal(url: str, option: str) -> OneDriveError:
    with pytest.raises(OneDriveError) as raised:
        endpoints(**{option: url})
    assert raised.value.reason == "invalid_option"
    assert raised.value.msg.startswith(f"{option} must")
    return raised.value


@pytest.mark.parametrize("option", OPTIONS)
@pytest.mark.parametrize(
    "url",
    [
        "http://login.example",
        "http://login.example:8080/prefix",
        "http://10.0.0.5",
        "http://192.168.1.10:8443",
        "http://[2001:db8::1]:8080",
        "http://[::ffff:10.0.0.1]",
        "http://localhost.example",
        "http://127.0.0.1.nip.io",
        "http://0.0.0.0:8080",
        "HTTP://graph.example",
    ],
)
def test_plain_http_to_another_host_is_refused(option, url):
    failure = refusal(url, option)
    assert "https" in failure.msg and "loopback" in failure.msg


@pytest.mark.parametrize("option", OPTIONS)
@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1",
        "http://127.0.0.1:8400/",
        "http://127.8.9.10:8080/prefix",
        "http://[::1]:8400",
        "http://localhost",
        "http://LocalHost:5000/emulator",
        "https://login.example",
        "https://10.0.0.5:8443",
    ],
)
def test_https_anywhere_and_http_to_loopback_are_accepted(option, url):
    where = endpoints(**{option: url})
    assert getattr(where, option) == url.rstrip("/")


@pytest.mark.parametrize("option", OPTIONS)
@pytest.mark.parametrize(
    "url",
    [
        f"https://:{PASSWORD}@login.example",
        f"https://user:{PASSWORD}@login.example",
        f"https://{PASSWORD}@login.example",
        f"https://:{PASSWORD}@127.0.0.1:8443",
        f"http://:{PASSWORD}@localhost:8080",
        "https://@login.example",
        "https://:@login.example",
    ],
)
def test_any_userinfo_is_refused_without_echoing_it(option, url):
    failure = refusal(url, option)
    assert "credentials" in failure.msg
    assert PASSWORD not in failure.msg and "@login" not in failure.msg


def test_validate_base_url_names_the_option_it_checks():
    with pytest.raises(OneDriveError, match="^graph_url must use https"):
        validate_base_url("http://graph.example", "graph_url")
