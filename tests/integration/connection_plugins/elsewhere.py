# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A connection that runs commands on this machine, like local, under another name: to the action plugins it
is a managed host other than the controller, so tests can take the path a remote host takes without one."""

from __future__ import annotations

from ansible.plugins.connection.local import Connection as LocalConnection

DOCUMENTATION = """
    name: elsewhere
    short_description: local, seen as another host
    description:
        - Runs commands on the controller, as the local connection does, but under another transport name.
    author: onedrive.connection tests
    options:
        become_success_timeout:
            type: int
            default: 10
            description: As for the local connection.
        become_strip_preamble:
            type: bool
            default: true
            description: As for the local connection.
    extends_documentation_fragment:
        - connection_pipelining
"""


class Connection(LocalConnection):
    transport = "elsewhere"
