"""Properties of the URLs the collection builds and of the sign-in responses it reads, for arbitrary input."""

from __future__ import annotations

from urllib.parse import parse_qsl, quote, urlencode, urlsplit

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ansible_collections.onedrive.connection.plugins.module_utils import scopes as scope_list
from ansible_collections.onedrive.connection.plugins.module_utils.endpoints import endpoints
from ansible_collections.onedrive.connection.plugins.module_utils.errors import OneDriveError
from ansible_collections.onedrive.connection.plugins.module_utils.redirect import (
    NATIVE_CLIENT,
    code_from_response,
    parse_response,
    validate_redirect_uri,
)

# Reproducible in CI: the same examples on every run, none replayed from a local database.
BASE = settings(deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow])
MEGABYTE = 1024 * 1024

# Text as module options can hold it: any code point a UTF-8 document can carry.
text = st.text()
# Anything a str can hold, lone surrogates and undecodable bytes included.
any_text = st.one_of(
    st.text(st.characters(codec=None, categories=["L", "M", "N", "P", "S", "Z", "C"])),
    st.binary().map(lambda data: data.decode("latin-1")),
    st.binary().map(lambda data: data.decode("utf-8", "surrogateescape")),
)
# Pieces that mean something to a URL or form parser, to build text near the valid shapes.
PIECES = [*"&=#?%+[]@:/ \n\t\x00\udcffé", *"code= state= error= %3D %26 %25 %2 https:// ms-app://".split()]
url_like = st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=3)), max_size=40).map("".join)

scope_token = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters='"\\'), min_size=1)
GUID = st.uuids().map(str)
label = st.from_regex(r"[a-z0-9](?:[a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
valid_tenant = st.one_of(
    st.sampled_from(["common", "organizations", "consumers", "Common"]),
    GUID,
    st.lists(label, min_size=2, max_size=4).map(".".join),
)
valid_redirect_uri = st.one_of(
    st.just(NATIVE_CLIENT),
    st.builds("http://localhost:{}/{}".format, st.integers(1, 65535), st.sampled_from(["", "cb", "a/b"])),
    st.builds(
        "https://app.example/{}".format,
        st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="#"), max_size=60),
    ),
)


@settings(BASE, max_examples=500)
@given(
    tenant=valid_tenant,
    client_id=GUID,
    redirect_uri=valid_redirect_uri,
    scopes=st.lists(scope_token, min_size=1, max_size=6),
    state=text.filter(bool),
    challenge=st.none() | st.text(st.characters(codec="ascii", categories=["L", "N"]), min_size=43, max_size=43),
    prompt=st.sampled_from([None, "login", "none", "consent", "select_account"]),
    login_hint=text,
    domain_hint=text,
)
def test_authorize_url_parses_back_to_its_parameters(
    tenant, client_id, redirect_uri, scopes, state, challenge, prompt, login_hint, domain_hint
):
    where = endpoints("public", tenant)
    url = where.authorize_url(
        client_id=client_id,
        redirect_uri=redirect_uri,
        scopes=scopes,
        state=state,
        code_challenge=challenge,
        prompt=prompt,
        login_hint=login_hint,
        domain_hint=domain_hint,
    )
    assert url.isascii() and not any(char.isspace() for char in url)
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == (
        "https",
        "login.microsoftonline.com",
        f"/{tenant}/oauth2/v2.0/authorize",
    )
    pairs = parse_qsl(parts.query, keep_blank_values=True, strict_parsing=True)
    expected = dict(
        client_id=client_id, response_type="code", redirect_uri=redirect_uri, scope=" ".join(scopes), state=state
    )
    if challenge:
        expected.update(code_challenge=challenge, code_challenge_method="S256")
    expected.update(
        (name, value)
        for name, value in dict(prompt=prompt, login_hint=login_hint, domain_hint=domain_hint).items()
        if value
    )
    assert dict(pairs) == expected and len(pairs) == len(expected)
    assert dict(pairs)["scope"].split(" ") == scopes


@settings(BASE, max_examples=400)
@given(st.one_of(text, url_like, valid_tenant))
@example("a/b")
@example("..")
@example("?x=")
@example("%2f")
@example("common/../x")
@example("ｃｏｍｍｏｎ")
@example("contoso.com\n")
@example("a." * (MEGABYTE // 2))
def test_a_tenant_never_leaves_its_path_segment(tenant):
    try:
        where = endpoints("public", tenant)
    except OneDriveError as exc:
        assert exc.reason == "invalid_option" and "tenant" in exc.msg
        return
    parts = urlsplit(where.authorize)
    assert (parts.netloc, parts.query, parts.fragment) == ("login.microsoftonline.com", "", "")
    assert parts.path.split("/") == ["", tenant, "oauth2", "v2.0", "authorize"]
    assert tenant not in (".", "..") and not set(tenant) & set("/?#%\\ ")


@settings(BASE, max_examples=400)
@given(st.one_of(text, url_like, valid_redirect_uri, st.builds("http://{}".format, url_like)))
def test_a_redirect_uri_is_https_or_loopback_or_refused(uri):
    try:
        assert validate_redirect_uri(uri) == uri
    except OneDriveError as exc:
        assert exc.reason == "invalid_option" and "redirect_uri" in exc.msg
        return
    parts = urlsplit(uri)
    assert parts.scheme == "https" or parts.hostname in ("localhost", "127.0.0.1")
    assert len(uri) <= 256 and uri.isprintable() and " " not in uri and not parts.fragment


@settings(BASE, max_examples=300)
@given(st.one_of(st.lists(st.one_of(text, scope_token), max_size=5), text))
def test_validated_scopes_are_tokens_that_survive_the_url(values):
    try:
        scopes = scope_list.validate(values)
    except OneDriveError as exc:
        assert exc.reason == "invalid_option" and "scopes" in exc.msg
        return
    assert scopes and " ".join(scopes).split(" ") == scopes
    assert all(scope.isascii() and scope.isprintable() and " " not in scope for scope in scopes)
    assert quote(" ".join(scopes), safe="").count("%20") == len(scopes) - 1


# The shapes users paste: how the parameters are encoded, and what surrounds them.
SHAPES = {
    "address bar": lambda query: f"{NATIVE_CLIENT}?{query}",
    "loopback": lambda query: f"http://localhost:53682/?{query}",
    "fragment": lambda query: f"{NATIVE_CLIENT}#{query}",
    "query alone": lambda query: query,
    "query with its question mark": lambda query: f"?{query}",
    "fragment alone": lambda query: f"#{query}",
    "encoded twice": lambda query: quote(f"{NATIVE_CLIENT}?{query}", safe=""),
}
EXTRAS = st.dictionaries(
    st.sampled_from(["session_state", "iss", "client_info", "x", "state_hint", "codes"]), text, max_size=3
)


@settings(BASE, max_examples=1000)
@given(
    code=text.filter(bool),
    state=text,
    extras=EXTRAS,
    shape=st.sampled_from(sorted(SHAPES)),
    form_encoding=st.booleans(),
    order=st.randoms(use_true_random=False),
    padding=st.tuples(*[st.text(" \t\r\n", max_size=3)] * 2),
    wraps=st.lists(st.integers(0, 10_000), max_size=3),
)
def test_a_response_in_any_shape_gives_back_its_code_and_state(
    code, state, extras, shape, form_encoding, order, padding, wraps
):
    pairs = [("code", code), ("state", state), *extras.items()]
    order.shuffle(pairs)
    # A form_post body encodes a space as +; an address bar as %20.
    query = urlencode(pairs) if form_encoding else urlencode(pairs, quote_via=quote)
    pasted = SHAPES[shape](query)
    # A line broken where a terminal or mail wrapped it: the text around a break holds no raw whitespace.
    for position in sorted(wraps, reverse=True):
        cut = position % (len(pasted) + 1)
        pasted = f"{pasted[:cut]}\n{pasted[cut:]}"
    pasted = padding[0] + pasted + padding[1]
    assert code_from_response(pasted, state) == code
    assert code_from_response(pasted) == code
    assert parse_response(pasted).get("state", "") == state


@settings(BASE, max_examples=200)
@given(
    error=st.one_of(st.sampled_from(["access_denied", "consent_required", "server_error", "invalid_request"]), text),
    description=text,
    state=text,
    shape=st.sampled_from(sorted(SHAPES)),
)
def test_an_error_response_in_any_shape_fails_with_its_error(error, description, state, shape):
    query = urlencode(dict(error=error, error_description=description, state=state), quote_via=quote)
    with pytest.raises(OneDriveError) as raised:
        code_from_response(SHAPES[shape](query), state)
    # An empty error parameter is no error: then the code is what is missing.
    assert raised.value.error == (error or None)
    assert "\r" not in raised.value.msg


@settings(BASE, max_examples=1000)
@given(pasted=st.one_of(any_text, url_like), state=st.none() | any_text)
@example(pasted="x" * MEGABYTE, state=None)
@example(pasted=f"{NATIVE_CLIENT}?code={'c' * MEGABYTE}&state=s", state="s")
@example(pasted="%" * MEGABYTE, state="s")
@example(pasted="&=" * MEGABYTE, state=None)
@example(pasted=bytes(range(256)).decode("latin-1") * 4096, state=None)
@example(pasted="https://[" + "code=a&" * 100_000, state=None)
def test_any_text_gives_a_code_or_the_modules_own_error(pasted, state):
    try:
        code = code_from_response(pasted, state)
    except OneDriveError as exc:
        assert exc.reason and exc.msg
    else:
        assert isinstance(code, str) and code
