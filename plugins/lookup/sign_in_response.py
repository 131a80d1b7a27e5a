# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Lookup plugin onedrive.connection.sign_in_response: the pasted sign-in response, as data."""

from __future__ import annotations

DOCUMENTATION = r"""
name: sign_in_response
short_description: The sign-in response a person gave, read as data and never evaluated as a template
version_added: 1.0.0
author: onedrive.connection maintainers (@onedrive-connection)
description:
  - Returns the address-bar URL (or query string) that the browser showed after sign-in, from the first of
    these that is not empty, with surrounding white space removed; an empty string when none is given.
  - The value of the variable named by O(variable), exactly as given (for example with C(-e)). Ansible would
    evaluate a C({{ ... }}) in that value as a template wherever the variable is used, and the text comes from
    a person or a pipeline parameter (an AWX survey answer), so this lookup reads the variable's raw value
    instead and hands it on marked unsafe.
  - The content of the file O(file) on the controller.
  - The environment variable O(env) of the controller.
  - The bootstrap role reads C(onedrive_auth_response), C(onedrive_auth_response_file) and
    C(ONEDRIVE_AUTH_RESPONSE) through it.
options:
  variable:
    description: Name of the variable that may hold the response. Only its name is given, so that its value is never templated.
    type: str
  file:
    description: Path of a file on the controller that holds the response; empty for none.
    type: str
  env:
    description: Name of an environment variable of the controller that may hold the response.
    type: str
notes:
  - The file and environment ways never show the response, even at C(-vvvv); a value given with C(-e) appears
    in the C(extra_vars) line that C(ansible-playbook -vvvv) prints.
"""

EXAMPLES = r"""
- name: Take the sign-in response without evaluating it
  ansible.builtin.set_fact:
    pasted: >-
      {{ lookup('onedrive.connection.sign_in_response', variable='auth_response', file=auth_response_file | default(omit),
                env='ONEDRIVE_AUTH_RESPONSE') }}
  no_log: true
"""

RETURN = r"""
_raw:
  description: The response, or an empty string when none was given. It is marked unsafe, so it is never templated.
  type: list
  elements: str
"""

import os

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

from ansible_collections.onedrive.connection.plugins.plugin_utils.compat import native, unsafe


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        return [unsafe(self._first_given(variables or {}))]

    def _first_given(self, variables) -> str:
        name = self.get_option("variable")
        if name:
            # The raw value, read from the variables themselves: templating it would run what it holds.
            value = native(variables.get(name))
            if value is not None and not isinstance(value, str):
                raise AnsibleLookupError(f"{name} must be text, the address-bar URL of the page the browser ended on.")
            if value and value.strip():
                return value.strip()
        path = os.path.expanduser(self.get_option("file") or "")
        if path:
            try:
                with open(path, encoding="utf-8") as handle:
                    content = handle.read(1 << 20)
            except (OSError, UnicodeDecodeError) as exc:
                raise AnsibleLookupError(
                    f"The sign-in response file {path} cannot be read ({getattr(exc, 'strerror', None) or exc.__class__.__name__}):"
                    " write the address-bar URL into it, or correct the path."
                ) from None
            if content.strip():
                return content.strip()
        env = self.get_option("env")
        return (os.environ.get(env) or "").strip() if env else ""
