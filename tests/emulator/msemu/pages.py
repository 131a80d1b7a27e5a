"""HTML pages of the browser-facing flows. The form ids (signin, consent, devicecode) and field names
(flow, login, action, otc) are what msemu.browser submits, so change them together."""

from __future__ import annotations

from html import escape

from .errors import Diagnostics, OAuthError

_STYLE = ("body{font-family:Segoe UI,Helvetica,Arial,sans-serif;background:#f2f2f2;margin:0}"
          "main{background:#fff;max-width:440px;margin:60px auto;padding:44px;box-shadow:0 2px 6px #0003}"
          "h1{font-size:24px;font-weight:600}button{padding:6px 20px;margin-right:8px}"
          "input[type=text]{width:100%;padding:6px;font-size:15px}.error{color:#e81123}"
          "pre{white-space:pre-wrap;font-size:12px;color:#555}")


def _page(title: str, content: str) -> str:
    return (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{escape(title)}</title>"
            f"<style>{_STYLE}</style></head><body><main><div>Microsoft (emulated)</div>"
            f"<h1>{escape(title)}</h1>{content}</main></body></html>")


def sign_in(segment: str, flow_id: str, app_name: str, login_hint: str, known_logins: list[str]) -> str:
    options = "".join(f"<option value=\"{escape(login)}\">" for login in known_logins)
    return _page("Sign in", (
        f"<p>to continue to {escape(app_name)}</p>"
        f"<form id=\"signin\" method=\"post\" action=\"/{escape(segment)}/login\">"
        f"<input type=\"hidden\" name=\"flow\" value=\"{escape(flow_id)}\">"
        f"<input type=\"text\" name=\"login\" list=\"users\" autofocus value=\"{escape(login_hint)}\""
        f" placeholder=\"Email, phone, or Skype\"><datalist id=\"users\">{options}</datalist>"
        "<p><button type=\"submit\">Next</button></p></form>"))


def consent(segment: str, flow_id: str, app_name: str, user_login: str, scopes: list[str]) -> str:
    items = "".join(f"<li>{escape(s)}</li>" for s in scopes)
    return _page("Permissions requested", (
        f"<p>{escape(user_login)}</p><p>{escape(app_name)} would like to:</p><ul>{items}</ul>"
        f"<form id=\"consent\" method=\"post\" action=\"/{escape(segment)}/consent\">"
        f"<input type=\"hidden\" name=\"flow\" value=\"{escape(flow_id)}\">"
        "<button type=\"submit\" name=\"action\" value=\"cancel\">Cancel</button>"
        "<button type=\"submit\" name=\"action\" value=\"accept\">Accept</button></form>"))


def error(err: OAuthError, diag: Diagnostics) -> str:
    return _page("Sorry, but we're having trouble signing you in.", (
        f"<p class=\"error\">AADSTS{err.code}: {escape(err.message)}</p>"
        f"<pre>Request Id: {diag.trace_id}\nCorrelation Id: {diag.correlation_id}\n"
        f"Timestamp: {diag.timestamp}\nMessage: AADSTS{err.code}: {escape(err.message)}</pre>"))


def form_post(action: str, fields: dict[str, str]) -> str:
    """The response_mode=form_post answer: a form the browser submits to the redirect URI by itself."""
    inputs = "".join(f"<input type=\"hidden\" name=\"{escape(k)}\" value=\"{escape(v)}\">"
                     for k, v in fields.items())
    return (f"<html><head><title>Working...</title></head><body>"
            f"<form method=\"POST\" name=\"hiddenform\" action=\"{escape(action)}\">{inputs}"
            "<noscript><p>Script is disabled. Click Submit to continue.</p>"
            "<input type=\"submit\" value=\"Submit\"></noscript></form>"
            "<script>document.forms[0].submit();</script></body></html>")


def device_code_entry(message: str = "", prefill: str = "") -> str:
    note = f"<p class=\"error\">{escape(message)}</p>" if message else ""
    return _page("Enter code", (
        f"<p>Enter the code displayed on your app or device.</p>{note}"
        "<form id=\"devicecode\" method=\"post\" action=\"/devicelogin\">"
        f"<input type=\"text\" name=\"otc\" autofocus placeholder=\"Code\" value=\"{escape(prefill)}\">"
        "<p><button type=\"submit\">Next</button></p></form>"))


def device_done(app_name: str, approved: bool) -> str:
    if approved:
        return _page(app_name, "<p>You have signed in to the application on your device. "
                               "You may now close this window.</p>")
    return _page(app_name, "<p>You declined to sign in to the application on your device. "
                           "You may now close this window.</p>")


def signed_out() -> str:
    return _page("You signed out of your account", "<p>It's a good idea to close all browser windows.</p>")
