# Copyright: onedrive.connection contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""HTTP for every module: one ``requests`` session per run, bounded retries, redirects only within an origin,
answers bounded in size and time, TLS and network failures."""

from __future__ import annotations

import math
import re
import threading
import time
import traceback
import typing as t
from urllib.parse import urljoin, urlsplit

from ansible_collections.onedrive.connection.plugins.module_utils.errors import OneDriveError

try:
    import requests
    import urllib3
    from requests.adapters import HTTPAdapter
    from urllib3.exceptions import InsecureRequestWarning, ProtocolError, ReadTimeoutError
except ImportError:
    HAS_REQUESTS = False
    REQUESTS_IMPORT_ERROR: str | None = traceback.format_exc()
else:
    HAS_REQUESTS = True
    REQUESTS_IMPORT_ERROR = None
    # Failures that may pass: a dropped connection, a timeout, a body cut short.
    _TRANSIENT = (
        requests.exceptions.ConnectionError,
        requests.exceptions.Timeout,
        requests.exceptions.ChunkedEncodingError,
    )
    # Failures once the request was sent, whatever requests wraps them in: the service may have acted on it.
    _AFTER_SENDING = (
        requests.exceptions.ReadTimeout,
        requests.exceptions.ChunkedEncodingError,
        ProtocolError,
        ReadTimeoutError,
    )

# Statuses Microsoft documents as transient; 400, 401 and 403 never change on a retry.
RETRY_STATUSES = frozenset((429, 503, 504))
# Methods that mean the same when sent twice (RFC 9110); others are resent only when the caller says so.
IDEMPOTENT_METHODS = frozenset(("GET", "HEAD", "OPTIONS", "PUT", "DELETE"))
# Waits before each retry when the service did not say how long; their count bounds the retries.
BACKOFF = (0.5, 1.0, 2.0)
# Redirects a request may follow within its origin; the token and device-code endpoints never redirect.
MAX_REDIRECTS = 3
# The most an answer's body may hold once decompressed; login and Graph answers here take a few KiB.
MAX_BODY = 1024 * 1024
# Read in pieces, so that a body past the cap (a decompression bomb too) stops early.
_CHUNK = 16 * 1024
# Each request's whole answer must arrive within this many times ``timeout``: a server sending a byte now
# and then never lets a single read time out.
DEADLINE_FACTOR = 3


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (Graph sends fractional ones too); None when absent or unusable."""
    try:
        seconds = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


# urllib3 starts its messages with the connection or pool ("HTTPSConnectionPool(host='x', port=443): ...").
_CONNECTION_PREFIX = re.compile(r"^(?:<[^>]*>|\w+\(host=[^)]*\)): ")


def _cause(exc: Exception) -> str:
    """What went wrong, without the wrappers requests and urllib3 put around it."""
    inner = exc.args[0] if exc.args and isinstance(exc.args[0], Exception) else exc
    inner = getattr(inner, "reason", inner)  # urllib3's MaxRetryError holds the real error in .reason
    if isinstance(inner, ProtocolError) and len(inner.args) == 2:
        # A lost connection: ("Connection aborted.", the socket's error).
        return f"{str(inner.args[0]).rstrip('.')}: {inner.args[1]}"
    return _CONNECTION_PREFIX.sub("", str(inner)) or type(inner).__name__


class Transport:
    """A ``requests`` session with the module's TLS settings, timeout and retry policy.

    Safe to share between threads: ``pool_size`` is how many connections per host it keeps open.
    """

    def __init__(
        self,
        *,
        timeout: float = 30,
        validate_certs: bool = True,
        ca_path: str | None = None,
        max_retry_wait: float = 60,
        pool_size: int = 10,
        sleep: t.Callable[[float], None] = time.sleep,
    ) -> None:
        self._timeout = timeout
        self._deadline = DEADLINE_FACTOR * timeout
        self._verify: bool | str = (ca_path or True) if validate_certs else False
        if not validate_certs:
            # Said once through Ansible (common.INSECURE_WARNING) instead of once per request on stderr.
            urllib3.disable_warnings(InsecureRequestWarning)
        self._max_retry_wait = max_retry_wait
        self._sleep = sleep
        self._session = requests.Session()
        adapter = HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size, max_retries=0)
        self._session.mount("https://", adapter)
        self._session.mount("http://", adapter)

    def __enter__(self) -> Transport:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._session.close()

    def request(
        self,
        method: str,
        url: str,
        *,
        idempotent: bool | None = None,
        redirects: int | None = None,
        retry_status: t.Callable[[requests.Response], tuple[int, str | None]] | None = None,
        **kwargs: t.Any,
    ) -> requests.Response:
        """Send a request and return the final response, whatever its status but a redirect.

        Connection errors, timeouts and 429/503/504 answers are retried up to len(BACKOFF) times, each after
        the wait the service asked for or else the next BACKOFF step, while the waits add up to at most
        ``max_retry_wait`` seconds. The last answer is returned for the caller to classify; TLS failures and
        spent network retries raise OneDriveError. ``kwargs`` go to ``requests.Session.request``.

        A request that is not ``idempotent`` (by default: its method is not) is not sent again once it may
        have reached the service, after a read timeout or a connection lost mid-answer: a token request the
        service acted on has used up its code, or rotated its refresh token out.

        ``redirects`` is how many redirects the request follows, each only within its origin (scheme, host and
        port): by default MAX_REDIRECTS when it is idempotent, else none, since the requests that are not (token
        and device-code ones) carry a code, refresh token or secret, and those endpoints never redirect. Any
        redirect not followed fails with unexpected_response, naming the origin it pointed to.

        Each answer must be whole within DEADLINE_FACTOR times ``timeout`` and hold at most MAX_BODY bytes;
        past either the request fails and is not sent again.

        ``retry_status(response) -> (status, retry_after_header)``, when given, names the status and
        Retry-After value that decide whether an answer is retried (default: the answer's own); a Graph
        $batch answer uses it to expose a throttled sub-request.
        """
        if idempotent is None:
            idempotent = method.upper() in IDEMPOTENT_METHODS
        allowed = (MAX_REDIRECTS if idempotent else 0) if redirects is None else redirects
        followed = 0
        while True:
            response = self._send(method, url, idempotent, retry_status or _own_status, kwargs)
            if not 300 <= response.status_code < 400:
                return response
            url = _follow(url, response, allowed, followed)
            method, kwargs = _redirected(method, response, kwargs)
            followed += 1

    def _send(
        self,
        method: str,
        url: str,
        idempotent: bool,
        retry_status: t.Callable[[requests.Response], tuple[int, str | None]],
        kwargs: dict,
    ) -> requests.Response:
        """The answer to one request, after the retries the policy allows."""
        host = urlsplit(url).netloc
        waited = 0.0
        attempts = 0
        while True:
            outcome = self._attempt(method, url, host, kwargs)
            if isinstance(outcome, Exception) and not idempotent and _after_sending(outcome):
                raise _network_error(host, attempts + 1, outcome, _NOT_SENT_AGAIN)
            delay = _retry_delay(outcome, attempts, retry_status)
            attempts += 1
            if delay is None or waited + delay > self._max_retry_wait:
                if isinstance(outcome, Exception):
                    raise _network_error(host, attempts, outcome)
                return outcome
            self._sleep(delay)
            waited += delay

    def _attempt(self, method: str, url: str, host: str, kwargs: dict) -> requests.Response | Exception:
        """One request; a transient failure is returned for the retry decision, any other is raised."""
        try:
            return self._within_deadline(method, url, host, kwargs)
        except requests.exceptions.SSLError as exc:
            advice = (
                f"Check that ca_path ({self._verify}) holds the CA certificate that signed the host's certificate"
                if isinstance(self._verify, str)
                else "Set ca_path to the CA bundle that signed its certificate (validate_certs=false only for tests)"
            )
            raise OneDriveError(f"TLS with {host} failed: {_cause(exc)}. {advice}.", "tls") from None
        except _TRANSIENT as exc:
            return exc
        except requests.exceptions.InvalidHeader:
            # requests quotes the header's value, which here is a bearer token or client credentials.
            raise OneDriveError(
                f"A request to {host} could not be sent: a token or secret holds characters HTTP headers cannot"
                " carry; check the variable or vault entry that holds it.",
                "invalid_option",
            ) from None
        except requests.exceptions.RequestException as exc:
            raise _network_error(host, 1, exc) from None
        except OSError as exc:
            # What requests raises bare: a CA bundle path that does not exist, checked only when sending.
            raise OneDriveError(
                f"TLS with {host} cannot be set up: {exc}. Set ca_path to an existing PEM file (or directory) of CA"
                " certificates.",
                "tls",
            ) from None

    def _within_deadline(self, method: str, url: str, host: str, kwargs: dict) -> requests.Response:
        """The answer, body read, from a thread given the deadline; what that thread raised is raised here.

        Past the deadline the thread is left to end by itself (it is a daemon: it never holds the process up).
        """
        outcome: list = []
        worker = threading.Thread(target=self._fetch, args=(method, url, host, kwargs, outcome), daemon=True)
        worker.start()
        worker.join(self._deadline)
        if not outcome:
            # Not retried: a server this slow is no passing fault, and waiting again would multiply the delay.
            raise OneDriveError(
                f"{host} sent no whole answer within {self._deadline:g} s ({DEADLINE_FACTOR} times timeout), so the"
                " request was given up and not sent again. Check the network, proxy settings, login_url/graph_url"
                " and timeout.",
                "network",
            )
        if isinstance(outcome[0], BaseException):
            raise outcome[0]
        return outcome[0]

    def _fetch(self, method: str, url: str, host: str, kwargs: dict, outcome: list) -> None:
        try:
            response = self._session.request(
                method,
                url,
                timeout=self._timeout,
                verify=self._verify,
                stream=True,  # read by _read_body, within MAX_BODY
                allow_redirects=False,  # request() decides which redirects to follow
                **kwargs,
            )
            _read_body(response, host)
            outcome.append(response)
        except BaseException as exc:  # handed to the caller's thread, which classifies it
            outcome.append(exc)


def _read_body(response: requests.Response, host: str) -> None:
    """Read the body into ``response.content``, failing past MAX_BODY bytes as decompressed."""
    # A response built in memory (as tests do) holds its body already; a streamed one is read in chunks.
    chunks = response.iter_content(_CHUNK) if response.raw is not None else [response.content or b""]
    body = bytearray()
    for chunk in chunks:
        body += chunk
        if len(body) > MAX_BODY:
            response.close()
            raise OneDriveError(
                f"{host} answered with more than {MAX_BODY // 1048576} MiB, far more than any answer the login"
                " endpoints or Graph give here; check login_url, graph_url and any proxy between.",
                "unexpected_response",
            )
    # Where requests keeps a body it has read: .content, .text and .json() use it.
    response._content = bytes(body)


_DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin(url: str) -> tuple[str, str | None, int | None]:
    """Scheme, host and port; raises ValueError for a port that is not a number."""
    parts = urlsplit(url)
    return parts.scheme, parts.hostname, parts.port or _DEFAULT_PORTS.get(parts.scheme)


def _location(url: str, response: requests.Response) -> str | None:
    """The absolute http(s) URL a redirect's Location names, relative to ``url``; None when absent or unusable."""
    value = response.headers.get("Location", "").strip()
    if not value:
        return None
    try:
        target = urljoin(url, value)
        scheme, hostname, _port = _origin(target)
    except ValueError:
        return None
    return target if scheme in _DEFAULT_PORTS and hostname else None


def _shown(url: str) -> str:
    """scheme://host[:port] of a URL: never its path or query, which may hold anything, nor a password."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


def _follow(url: str, response: requests.Response, allowed: int, followed: int) -> str:
    """Where a redirect points, when the request may follow it there; else the unexpected_response failure."""
    host, status = urlsplit(url).netloc, response.status_code
    target = _location(url, response)
    if target is None:
        why = "it names no usable Location"
    elif _origin(target) != _origin(url):
        why = f"it leads to another origin, {_shown(target)}, where the request's credentials would go too"
    elif allowed == 0:
        why = f"it leads to {_shown(target)}, but this request carries credentials and its endpoint never redirects"
    elif followed >= allowed:
        why = f"it leads to {_shown(target)}, and a request follows no more than {allowed} redirects"
    else:
        return target
    raise OneDriveError(
        f"{host} answered HTTP {status}, a redirect, which was not followed: {why}. Check login_url, graph_url and"
        " any proxy between.",
        "unexpected_response",
    )


# The arguments that make a request's body, which a redirect to a GET leaves behind.
_BODY_ARGUMENTS = ("data", "json", "files")


def _redirected(method: str, response: requests.Response, kwargs: dict) -> tuple[str, dict]:
    """The method and arguments to follow a redirect with: as every client does (RFC 9110, 15.4), 303 and a
    301 or 302 after a POST mean a GET without the body; others repeat the request as it was."""
    status, upper = response.status_code, method.upper()
    if (status == 303 and upper != "HEAD") or (status in (301, 302) and upper == "POST"):
        return "GET", {name: value for name, value in kwargs.items() if name not in _BODY_ARGUMENTS}
    return method, kwargs


def _own_status(response: requests.Response) -> tuple[int, str | None]:
    return response.status_code, response.headers.get("Retry-After")


def _after_sending(exc: Exception) -> bool:
    """Whether a transient failure came once the request was sent (requests wraps urllib3's errors)."""
    return isinstance(exc, _AFTER_SENDING) or (bool(exc.args) and isinstance(exc.args[0], _AFTER_SENDING))


def _retry_delay(
    outcome: requests.Response | Exception,
    retries_done: int,
    retry_status: t.Callable[[requests.Response], tuple[int, str | None]],
) -> float | None:
    """Seconds to wait before retrying, or None when the outcome is final."""
    if retries_done >= len(BACKOFF):
        return None
    if isinstance(outcome, Exception):
        return BACKOFF[retries_done]
    status, retry_after = retry_status(outcome)
    if status not in RETRY_STATUSES:
        return None
    asked = parse_retry_after(retry_after)
    return BACKOFF[retries_done] if asked is None else asked


_NOT_SENT_AGAIN = " It was not sent again, since the service may have acted on it."


def _network_error(host: str, attempts: int, exc: Exception, note: str = "") -> OneDriveError:
    return OneDriveError(
        f"Could not get an answer from {host} ({attempts} attempt(s)): {_cause(exc)}.{note} Check the network, proxy"
        " settings, login_url/graph_url and timeout.",
        "network",
    )


def json_body(response: requests.Response) -> t.Any:
    """The response's parsed JSON, or None when the body is not JSON (proxies and 429s send HTML or text)."""
    try:
        return response.json()
    except ValueError:
        return None
