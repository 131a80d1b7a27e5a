"""Bad input to every module: each case is handled correctly, or refused with a message naming the option and
without a request; never a traceback."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

import pytest

from ansible_collections.onedrive.connection.plugins.modules import authorize_url, redeem_code, rotate_tokens, verify

CLIENT_ID = "3fa3ec6b-0d9b-4d0b-9a4e-5d6c0f2b7a11"
NATIVE = "https://login.microsoftonline.com/common/oauth2/nativeclient"
CODE = "M.C507_BAY.2.U.1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d"
STATE = "Hq3vN0C1y2kXl1r8yCcTz7m5Lrj1ZbX2Q4h8sTgWw0E"
VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
RESPONSE = f"{NATIVE}?code={CODE}&state={STATE}&session_state=8c2a9f4e-6b1d-4f3a-9e2c-7d5b0a1c3e22"
TOKENS = dict(
    token_type="Bearer",
    scope="offline_access User.Read Files.Read",
    expires_in=3600,
    access_token="new-access-token",
    refresh_token="new-refresh-token",
)
MEGABYTE = 1024 * 1024

MAINS = dict(
    authorize_url=authorize_url.main, redeem_code=redeem_code.main, verify=verify.main, rotate_tokens=rotate_tokens.main
)
VALID = dict(
    authorize_url=dict(client_id=CLIENT_ID),
    redeem_code=dict(client_id=CLIENT_ID, response_url=RESPONSE, state=STATE, code_verifier=VERIFIER),
    verify=dict(client_id=CLIENT_ID, refresh_token="stored-refresh-token"),
    rotate_tokens=dict(client_id=CLIENT_ID, connections=dict(robot1=dict(refresh_token="stored-refresh-token"))),
)
NETWORK = ("redeem_code", "verify", "rotate_tokens")
OMIT = object()  # in a case's changes: leave the option out


@pytest.fixture
def attempt(run_module, fake_http):
    """Runs a module with its valid arguments updated by ``changes``; returns the result, checked for no traceback."""

    def run(module, changes, *, check_mode=False):
        args = {name: value for name, value in {**VALID[module], **changes}.items() if value is not OMIT}
        result = run_module(MAINS[module], args, check_mode=check_mode)
        text = json.dumps(result)
        assert "Traceback" not in text and "exception" not in result and "module_stderr" not in result, text
        return result

    return run


@pytest.fixture
def refused(attempt, fake_http):
    """Asserts that the module fails naming ``option``, with reason invalid_option when the module (not
    Ansible's own argument validation) refused, and without sending any request."""

    def check(module, changes, option, reason="invalid_option", **options):
        result = attempt(module, changes, **options)
        assert result.get("failed") is True, result
        assert option in result["msg"], result["msg"]
        assert result.get("reason", reason) == reason, result
        assert fake_http.requests == []
        return result

    return check


def each_module(cases, modules=tuple(MAINS)):
    """The cases ``(changes, option)`` for every one of ``modules``."""
    return [
        pytest.param(module, changes, option, id=f"{module}-{case_id}")
        for module in modules
        for case_id, (changes, option) in cases.items()
    ]


SHARED = {
    "client_id not a GUID": (dict(client_id="my-app"), "client_id"),
    "client_id in braces": (dict(client_id="{" + CLIENT_ID + "}"), "client_id"),
    "client_id with a newline": (dict(client_id=CLIENT_ID + "\n"), "client_id"),
    "client_id in full-width digits": (dict(client_id="３fa3ec6b-0d9b-4d0b-9a4e-5d6c0f2b7a11"), "client_id"),
    "client_id a number": (dict(client_id=12345), "client_id"),
    "client_id a bool": (dict(client_id=True), "client_id"),
    "tenant with a slash": (dict(tenant="a/b"), "tenant"),
    "tenant dot dot": (dict(tenant=".."), "tenant"),
    "tenant with a query": (dict(tenant="?x="), "tenant"),
    "tenant encoded slash": (dict(tenant="common%2fevil"), "tenant"),
    "tenant climbing out": (dict(tenant="contoso.com/../x"), "tenant"),
    "tenant with a fragment": (dict(tenant="common#x"), "tenant"),
    "tenant empty": (dict(tenant=""), "tenant"),
    "tenant with spaces": (dict(tenant=" common "), "tenant"),
    "tenant unicode": (dict(tenant="例え.jp"), "tenant"),
    "tenant a list": (dict(tenant=["common", "consumers"]), "tenant"),
    "tenant a dict": (dict(tenant=dict(name="common")), "tenant"),
    "cloud unknown": (dict(cloud="mars"), "cloud"),
    "cloud a bool": (dict(cloud=False), "cloud"),
    "login_url ftp": (dict(login_url="ftp://login.example"), "login_url"),
    "login_url with credentials": (dict(login_url="https://user:pw@login.example"), "login_url"),
    "login_url with a query": (dict(login_url="https://login.example/?tenant=x"), "login_url"),
    "login_url without scheme": (dict(login_url="login.example"), "login_url"),
    "login_url broken IPv6": (dict(login_url="https://[::1"), "login_url"),
    "login_url port out of range": (dict(login_url="https://login.example:99999"), "login_url"),
    "login_url control character": (dict(login_url="https://login.example/\x00"), "login_url"),
    "graph_url javascript": (dict(graph_url="javascript:alert(1)"), "graph_url"),
    "validate_certs not a bool": (dict(validate_certs="perhaps"), "validate_certs"),
    "timeout not a number": (dict(timeout="soon"), "timeout"),
}
NETWORK_SHARED = {
    "timeout zero": (dict(timeout=0), "timeout"),
    "timeout negative": (dict(timeout=-1), "timeout"),
    "max_retry_wait negative": (dict(max_retry_wait=-1), "max_retry_wait"),
}


@pytest.mark.parametrize("module, changes, option", each_module(SHARED) + each_module(NETWORK_SHARED, NETWORK))
def test_shared_options_are_refused(refused, module, changes, option):
    refused(module, changes, option)


AUTHORIZE_URL = {
    "scopes empty": (dict(scopes=[]), "scopes"),
    "scopes an empty string": (dict(scopes=""), "scopes"),
    "scopes only whitespace": (dict(scopes=["  ", "\n\t"]), "scopes"),
    "scopes a dict": (dict(scopes={"Files.Read": True}), "scopes"),
    "scope with a quote": (dict(scopes=['Files"Read']), "scopes"),
    "scope with a backslash": (dict(scopes=["Files\\Read"]), "scopes"),
    "scope unicode": (dict(scopes=["Fichiers.Lire✓"]), "scopes"),
    "scope of a megabyte": (dict(scopes=["é" * MEGABYTE]), "scopes"),
    "redirect_uri http to another host": (dict(redirect_uri="http://app.example/callback"), "redirect_uri"),
    "redirect_uri loopback lookalike": (dict(redirect_uri="http://localhost.evil.example/"), "redirect_uri"),
    "redirect_uri credentials trick": (dict(redirect_uri="http://localhost@evil.example/"), "redirect_uri"),
    "redirect_uri IPv6 loopback": (dict(redirect_uri="http://[::1]:8400/"), "redirect_uri"),
    "redirect_uri with a fragment": (dict(redirect_uri="https://app.example/cb#x"), "redirect_uri"),
    "redirect_uri leading space": (dict(redirect_uri=" https://app.example/cb"), "redirect_uri"),
    "redirect_uri trailing newline": (dict(redirect_uri="https://app.example/cb\n"), "redirect_uri"),
    "redirect_uri control character": (dict(redirect_uri="https://app.example/\x00cb"), "redirect_uri"),
    "redirect_uri too long": (dict(redirect_uri="https://app.example/" + "p" * 300), "redirect_uri"),
    "redirect_uri empty": (dict(redirect_uri=""), "redirect_uri"),
    "redirect_uri file": (dict(redirect_uri="file:///etc/passwd"), "redirect_uri"),
    "prompt unknown": (dict(prompt="always"), "prompt"),
    "pkce not a bool": (dict(pkce="perhaps"), "pkce"),
}


@pytest.mark.parametrize("module, changes, option", each_module(AUTHORIZE_URL, ("authorize_url",)))
def test_authorize_url_refuses(refused, module, changes, option):
    refused(module, changes, option)


@pytest.mark.parametrize(
    "value",
    ["été ✓ 李雷", "a&b=c#d?e/f%2fg+h", "line\nbreak\ttab", "\u202eright-to-left", "\x00\x1f\x7f", "x" * MEGABYTE],
    ids=["unicode", "URL syntax", "whitespace", "bidi override", "control characters", "a megabyte"],
)
def test_authorize_url_carries_any_text_intact(attempt, value):
    result = attempt("authorize_url", dict(state=value, login_hint=value, domain_hint=value))
    url = result["url"]
    assert url.isascii() and not any(char.isspace() for char in url)
    query = dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))
    assert query["state"] == query["login_hint"] == query["domain_hint"] == value == result["state"]


def test_authorize_url_splits_scopes_on_any_whitespace(attempt):
    result = attempt("authorize_url", dict(scopes=["User.Read\nFiles.Read\t", " offline_access  Files.Read "]))
    assert result["scopes"] == ["User.Read", "Files.Read", "offline_access"]


@pytest.mark.parametrize("tenant", ["COMMON", "9188040D-6C67-4C5B-B112-36A304B66DAD", "xn--bcher-kva.example"])
def test_authorize_url_accepts_every_valid_tenant_spelling(attempt, tenant):
    result = attempt("authorize_url", dict(tenant=tenant))
    assert urlsplit(result["url"]).path == f"/{tenant}/oauth2/v2.0/authorize"


# Responses the module must read the code from, as users paste them.
PASTED = {
    "fragment": f"{NATIVE}#code={CODE}&state={STATE}",
    "query string alone": f"?code={CODE}&state={STATE}",
    "form_post body": f"code={CODE}&state={STATE}&session_state=8c2a9f4e",
    "form_post body with an unencoded URL": (
        f"code={CODE}&state={STATE}&iss=https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0"
    ),
    "extra parameters": f"{RESPONSE}&iss=https%3A%2F%2Flogin.example%2Fv2.0&client_info=eyJ1aWQiOiIxIn0&x=&&y",
    "the code twice, alike": f"{RESPONSE}&code={CODE}",
    "surrounding whitespace": f"\r\n\t  {RESPONSE}  \n",
    "wrapped across lines": f"{RESPONSE[:40]}\n{RESPONSE[40:90]}\r\n{RESPONSE[90:]}",
    "encoded twice as a whole": quote(RESPONSE, safe=""),
    "query encoded twice": f"{NATIVE}?{quote(f'code={CODE}&state={STATE}', safe='')}",
    "a megabyte of extra parameter": f"{RESPONSE}&padding={'x' * MEGABYTE}",
    "broken host": f"https://[nativeclient?code={CODE}&state={STATE}",
}


@pytest.mark.parametrize("pasted", PASTED.values(), ids=PASTED.keys())
def test_redeem_code_reads_every_shape(attempt, fake_http, pasted):
    fake_http.answer(200, TOKENS)
    result = attempt("redeem_code", dict(response_url=pasted))
    assert result["changed"] is True and result["refresh_token"] == "new-refresh-token"
    assert fake_http.requests[0]["data"]["code"] == CODE


@pytest.mark.parametrize("state", ["état ✓", "a b+c&d=e#f", "\x00\n"], ids=["unicode", "URL syntax", "control"])
def test_redeem_code_matches_any_state_however_encoded(attempt, fake_http, state):
    # quote() as in a query; urlencode() with + for spaces as in a form_post body; raw as a browser may show it.
    shapes = [f"{NATIVE}?code={CODE}&state={quote(state)}", urlencode(dict(code=CODE, state=state))]
    if state.isalpha():
        shapes.append(f"{NATIVE}?code={CODE}&state={state}")
    for pasted in shapes:
        fake_http.answer(200, TOKENS)
        assert attempt("redeem_code", dict(response_url=pasted, state=state))["changed"] is True


def test_redeem_code_takes_a_bare_code_with_whitespace(attempt, fake_http):
    fake_http.answer(200, TOKENS)
    attempt("redeem_code", dict(response_url=OMIT, code=f"\n {CODE}\t"))
    assert fake_http.requests[0]["data"]["code"] == CODE


REDEEM_CODE = {
    "no code": (dict(response_url=f"{NATIVE}?state={STATE}&session_state=x"), "response_url"),
    "a bare code as response_url": (dict(response_url=CODE, state=None), "response_url"),
    "a megabyte without a code": (dict(response_url="x" * MEGABYTE, state=None), "response_url"),
    "binary": (dict(response_url="\x00\x01\x7f\ufffd=%FF%00", state=None), "response_url"),
    "a dict as response_url": (dict(response_url=dict(code=CODE), state=None), "response_url"),
    "two different codes": (dict(response_url=f"{RESPONSE}&code=injected"), "response_url"),
    "different code in the fragment": (dict(response_url=f"{RESPONSE}#code=injected"), "response_url"),
    "two different states": (dict(response_url=f"{RESPONSE}&state=other"), "response_url"),
    "code null": (dict(response_url=OMIT, code=None), "code, response_url and device_code"),
    "code and response_url null": (dict(response_url=None, code=None), "code|response_url"),
    "code and response_url": (dict(code=CODE), "code|response_url"),
    "neither code nor response_url": (dict(response_url=OMIT), "code, response_url"),
    "code empty": (dict(response_url=OMIT, code=" \n"), "code"),
    "code_verifier too short": (dict(code_verifier="short"), "code_verifier"),
    "code_verifier unicode": (dict(code_verifier="é" * 43), "code_verifier"),
    "code_verifier with a newline": (dict(code_verifier=VERIFIER + "\n"), "code_verifier"),
    "redirect_uri http to another host": (dict(redirect_uri="http://app.example/"), "redirect_uri"),
    "scopes empty": (dict(scopes=[]), "scopes"),
    "scopes with a quote": (dict(scopes=['"Files.Read"']), "scopes"),
}


@pytest.mark.parametrize("module, changes, option", each_module(REDEEM_CODE, ("redeem_code",)))
def test_redeem_code_refuses(refused, module, changes, option):
    refused(module, changes, option)


def test_redeem_code_fails_with_the_error_redirect_without_a_request(refused):
    error = f"{NATIVE}?error=access_denied&error_description=AADSTS65004: User declined to consent.&state={STATE}"
    result = refused("redeem_code", dict(response_url=error), "AADSTS65004", reason="access_denied")
    assert result["error"] == "access_denied" and result["error_codes"] == [65004]


def test_redeem_code_refuses_a_response_of_another_sign_in(refused):
    refused("redeem_code", dict(response_url=RESPONSE.replace(STATE, "other")), "state", reason="state_mismatch")


@pytest.mark.parametrize("pasted", [f"code={CODE}", CODE, ""], ids=["code parameter", "bare code", "empty"])
def test_redeem_code_asks_for_the_whole_address_bar_when_state_is_missing(refused, pasted):
    refused("redeem_code", dict(response_url=pasted), "holds no state", reason="invalid_option")


@pytest.mark.parametrize(
    "pasted",
    [f"https://evil.example/common/oauth2/nativeclient?code={CODE}&state={STATE}",
     f"http://login.microsoftonline.com/common/oauth2/nativeclient?code={CODE}&state={STATE}",
     f"ms-app://s-1-15-2-1234/?code={CODE}&state={STATE}"],
    ids=["another host", "another scheme", "an app scheme"],
)
def test_redeem_code_refuses_an_address_away_from_the_redirect_uri(refused, pasted):
    refused("redeem_code", dict(response_url=pasted), "redirect_uri", reason="redirect_mismatch")


@pytest.mark.parametrize("quotes", ['"{}"', "'{}'", """'"{}"'""", ' "{}"\n'])
def test_redeem_code_takes_a_quoted_address(attempt, fake_http, quotes):
    fake_http.answer(200, TOKENS)
    attempt("redeem_code", dict(response_url=quotes.format(RESPONSE)))
    assert fake_http.requests[0]["data"]["code"] == CODE


def test_redeem_code_explains_an_error_page_address(refused):
    page = (
        "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/authorize?client_id=0000-mistyped"
        f"&response_type=code&redirect_uri={quote(NATIVE, safe='')}&state={STATE}"
    )
    result = refused("redeem_code", dict(response_url=page), "AADSTS700016", reason="invalid_option")
    assert "0000-mistyped" in result["msg"] and "contoso.onmicrosoft.com" in result["msg"]


VERIFY = {
    "refresh_token null": (dict(refresh_token=None), "refresh_token and access_token"),
    "access_token null": (dict(refresh_token=OMIT, access_token=None), "refresh_token and access_token"),
    "neither token": (dict(refresh_token=OMIT), "refresh_token, access_token"),
    "both tokens": (dict(access_token="stored-access-token"), "refresh_token|access_token"),
    "refresh_token empty": (dict(refresh_token=""), "refresh_token"),
    "refresh_token whitespace": (dict(refresh_token=" \n\t"), "refresh_token"),
    "access_token empty": (dict(refresh_token=OMIT, access_token=""), "access_token"),
    "scopes empty": (dict(scopes=[]), "scopes"),
    "scopes unicode": (dict(scopes=["Files.Read", "Dateien.Lesen✓"]), "scopes"),
    "required_scopes a dict": (dict(required_scopes={"Files.Read": True}), "required_scopes"),
    "check_drive not a bool": (dict(check_drive="perhaps"), "check_drive"),
}


@pytest.mark.parametrize("module, changes, option", each_module(VERIFY, ("verify",)))
def test_verify_refuses(refused, module, changes, option):
    refused(module, changes, option)


def record(**fields):
    return dict(robot1=dict(dict(refresh_token="stored-refresh-token"), **fields))


ROTATE_TOKENS = {
    "rotate_after in words": (dict(rotate_after="7 days"), "rotate_after"),
    "rotate_after negative": (dict(rotate_after="-1"), "rotate_after"),
    "rotate_after a fraction": (dict(rotate_after="1.5d"), "rotate_after"),
    "rotate_after empty": (dict(rotate_after=""), "rotate_after"),
    "rotate_after a bool": (dict(rotate_after=True), "rotate_after"),
    "rotate_after superscript": (dict(rotate_after="²"), "rotate_after"),
    "max_workers zero": (dict(max_workers=0), "max_workers"),
    "max_workers too many": (dict(max_workers=65), "max_workers"),
    "max_workers not a number": (dict(max_workers="many"), "max_workers"),
    "names unknown": (dict(names=["robot9"]), "robot9"),
    "names a string": (dict(names="robot9"), "robot9"),
    "names a dict": (dict(names={"robot1": True}), "names"),
    "connections a list": (dict(connections=["robot1"]), "connections"),
    "connections a word": (dict(connections="robot1"), "connections"),
    "connections missing": (dict(connections=OMIT), "connections"),
    "record a string": (dict(connections=dict(robot1="stored-refresh-token")), "connections.robot1"),
    "record a list": (dict(connections=dict(robot1=["stored-refresh-token"])), "connections.robot1"),
    "record refresh_token a number": (
        dict(connections=record(refresh_token=12345)),
        "connections.robot1.refresh_token",
    ),
    "record access_token a dict": (dict(connections=record(access_token={})), "connections.robot1.access_token"),
    "record client_id a number": (dict(connections=record(client_id=42)), "connections.robot1.client_id"),
    "record tenant a list": (dict(connections=record(tenant=["a/b"])), "connections.robot1.tenant"),
    "record cloud a list": (dict(connections=record(cloud=["public"])), "connections.robot1.cloud"),
    "record scopes a dict": (dict(connections=record(scopes={"Files.Read": 1})), "connections.robot1.scopes"),
    "record scopes with a number": (dict(connections=record(scopes=["Files.Read", 3])), "connections.robot1.scopes"),
    "record scopes unicode": (dict(connections=record(scopes="Files.Read Fichiers✓")), "connections.robot1.scopes"),
    "record scopes whitespace": (dict(connections=record(scopes=" \n")), "connections.robot1.scopes"),
}


@pytest.mark.parametrize("module, changes, option", each_module(ROTATE_TOKENS, ("rotate_tokens",)))
def test_rotate_tokens_refuses(refused, module, changes, option):
    refused(module, changes, option)


CONNECTION_FAULTS = {
    "no refresh_token": (dict(connections=dict(robot1=dict())), "refresh_token", "token_invalid"),
    "empty refresh_token": (dict(connections=record(refresh_token="")), "refresh_token", "token_invalid"),
    "tenant climbing out": (dict(connections=record(tenant="../x")), "tenant", "invalid_option"),
    "unknown cloud": (dict(connections=record(cloud="mars")), "cloud", "invalid_option"),
    "malformed client_id": (dict(connections=record(client_id="my-app")), "client_id", "invalid_option"),
    "no client_id anywhere": (dict(client_id=OMIT), "client_id", "invalid_option"),
}


@pytest.mark.parametrize("changes, option, reason", CONNECTION_FAULTS.values(), ids=CONNECTION_FAULTS.keys())
def test_rotate_tokens_fails_only_the_faulty_connection(attempt, fake_http, changes, option, reason):
    connections = dict(changes.get("connections", VALID["rotate_tokens"]["connections"]))
    connections["robot2"] = dict(refresh_token="stored", rotated_at="2999-01-01T00:00:00Z")
    result = attempt("rotate_tokens", dict(changes, connections=connections, rotate_after="1d"))
    assert result["failed"] is True and f"robot1: {reason}" in result["msg"]
    failure = result["connection_results"]["robot1"]
    assert failure["reason"] == reason and option in failure["msg"]
    assert result["statuses"]["not_due"] == ["robot2"] and fake_http.requests == []


def test_rotate_tokens_with_no_connections_does_nothing(attempt, fake_http):
    result = attempt("rotate_tokens", dict(connections={}))
    assert result["changed"] is False and result["connection_results"] == {} and fake_http.requests == []


def test_rotate_tokens_splits_a_record_s_scopes(attempt, fake_http):
    fake_http.answer(200, TOKENS)
    fake_http.answer(403, dict(error=dict(code="accessDenied")))
    attempt("rotate_tokens", dict(connections=record(scopes="offline_access\nFiles.Read  User.Read")))
    assert fake_http.requests[0]["data"]["scope"] == "offline_access Files.Read User.Read"


# Options no connection can be made with; requests stops before connecting (and nothing listens on port 9).
UNUSABLE = {
    "ca_path missing": pytest.param(dict(ca_path="/nonexistent/ca.pem"), "ca_path"),
    "timeout not a number": pytest.param(dict(timeout="nan"), "timeout"),
    "timeout infinite": pytest.param(dict(timeout="inf"), "timeout"),
}


@pytest.mark.parametrize("changes, option", UNUSABLE.values(), ids=UNUSABLE.keys())
def test_options_no_connection_can_be_made_with_are_refused(run_module, changes, option):
    args = dict(VALID["verify"], login_url="https://127.0.0.1:9", max_retry_wait=0, **changes)
    result = run_module(MAINS["verify"], args)
    assert result["failed"] is True and option in result["msg"] and "exception" not in result
