"""Request and response values the endpoint functions take and return (no socket handling here)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from email.message import Message
from http.cookies import SimpleCookie
from urllib.parse import parse_qsl

JSON_TYPE = "application/json; charset=utf-8"
HTML_TYPE = "text/html; charset=utf-8"
TEXT_TYPE = "text/plain; charset=utf-8"
GRAPH_JSON_TYPE = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"


class DropConnection(Exception):
    """Close the connection without answering (the `drop` fault)."""


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: Message
    body: bytes
    scheme: str

    def header(self, name: str) -> str | None:
        return self.headers.get(name)

    def form(self) -> dict[str, str]:
        """The url-encoded body; the first value wins when a parameter is repeated."""
        pairs = parse_qsl(self.body.decode("utf-8", "replace"), keep_blank_values=True)
        result: dict[str, str] = {}
        for key, value in pairs:
            result.setdefault(key, value)
        return result

    def json(self) -> object:
        return json.loads(self.body or b"null")

    def cookie(self, name: str) -> str | None:
        jar = SimpleCookie()
        jar.load(self.headers.get("Cookie", ""))
        return jar[name].value if name in jar else None


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)

    def with_header(self, name: str, value: str) -> Response:
        self.headers.append((name, value))
        return self


def query_of(raw_query: str) -> dict[str, str]:
    result: dict[str, str] = {}
    for key, value in parse_qsl(raw_query, keep_blank_values=True):
        result.setdefault(key, value)
    return result


def json_response(status: int, value: object, content_type: str = JSON_TYPE) -> Response:
    return Response(status, json.dumps(value).encode("utf-8"), content_type)


def no_store(response: Response) -> Response:
    """The caching headers of every token endpoint answer."""
    response.headers += [("Cache-Control", "no-store, no-cache"), ("Pragma", "no-cache"), ("Expires", "-1")]
    return response


def html_response(status: int, page: str) -> Response:
    return Response(status, page.encode("utf-8"), HTML_TYPE)


def text_response(status: int, text: str) -> Response:
    return Response(status, text.encode("utf-8"), TEXT_TYPE)


def redirect(location: str) -> Response:
    return Response(302, b"", None, [("Location", location)])
