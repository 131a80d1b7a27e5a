# Copyright: onedrive.connection contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""What every module that talks to Microsoft shares: its options, the objects built from them, and how a
module run turns a OneDriveError into a failure with the stable fields."""

from __future__ import annotations

import math
import typing as t

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.onedrive.connection.plugins.module_utils.endpoints import (
    CLOUDS,
    Endpoints,
    endpoints,
    validate_client_id,
)
from ansible_collections.onedrive.connection.plugins.module_utils.errors import OneDriveError
from ansible_collections.onedrive.connection.plugins.module_utils.tokens import Client
from ansible_collections.onedrive.connection.plugins.module_utils.transport import (
    HAS_REQUESTS,
    REQUESTS_IMPORT_ERROR,
    Transport,
)


def connection_argument_spec(**options: dict[str, t.Any]) -> dict[str, dict[str, t.Any]]:
    """The shared options (documented by the onedrive.connection.connection doc fragment) and ``options``."""
    spec: dict[str, dict[str, t.Any]] = dict(
        client_id=dict(type="str", required=True),
        tenant=dict(type="str", default="common"),
        cloud=dict(type="str", default="public", choices=list(CLOUDS)),
        login_url=dict(type="str"),
        graph_url=dict(type="str"),
        client_secret=dict(type="str", no_log=True),
        validate_certs=dict(type="bool", default=True),
        ca_path=dict(type="path"),
        timeout=dict(type="float", default=30),
        max_retry_wait=dict(type="float", default=60),
    )
    spec.update(options)
    return spec


def endpoints_from_params(params: t.Mapping[str, t.Any]) -> Endpoints:
    return endpoints(params["cloud"], params["tenant"], params["login_url"], params["graph_url"])


def transport_from_params(params: t.Mapping[str, t.Any], pool_size: int = 1) -> Transport:
    """A Transport for one run; ``pool_size`` is how many requests may run at once."""
    timeout, max_retry_wait = params["timeout"], params["max_retry_wait"]
    if not (math.isfinite(timeout) and timeout > 0 and math.isfinite(max_retry_wait) and max_retry_wait >= 0):
        raise OneDriveError(
            "timeout must be a positive number of seconds and max_retry_wait a number not below zero.", "invalid_option"
        )
    return Transport(
        timeout=params["timeout"],
        validate_certs=params["validate_certs"],
        ca_path=params["ca_path"],
        max_retry_wait=params["max_retry_wait"],
        pool_size=pool_size,
    )


def client_from_params(params: t.Mapping[str, t.Any], transport: Transport) -> Client:
    return Client(
        transport, endpoints_from_params(params), validate_client_id(params["client_id"]), params["client_secret"]
    )


# Said once per task, through Ansible, whenever certificates go unchecked.
INSECURE_WARNING = (
    "validate_certs is false, so TLS certificates are not checked: whoever sits on the network path can read the"
    " tokens sent and answer as Microsoft. Give ca_path the CA that signed the certificate instead."
)


def run(module: AnsibleModule, action: t.Callable[[AnsibleModule], dict[str, t.Any]], *, network: bool = True) -> None:
    """Exit with what ``action`` returns, or fail with the fields of the OneDriveError it raises."""
    if network and not HAS_REQUESTS:
        module.fail_json(msg=missing_required_lib("requests"), exception=REQUESTS_IMPORT_ERROR)
    if network and module.params.get("validate_certs") is False:
        module.warn(INSECURE_WARNING)
    try:
        result = action(module)
    except OneDriveError as exc:
        module.fail_json(**exc.result())
    module.exit_json(**result)
