from __future__ import annotations

import pytest
import yaml

from ansible_collections.onedrive.connection.plugins.doc_fragments.connection import ModuleDocFragment
from ansible_collections.onedrive.connection.plugins.module_utils.common import (
    client_from_params,
    connection_argument_spec,
    transport_from_params,
)
from ansible_collections.onedrive.connection.plugins.module_utils.errors import OneDriveError

PARAMS = dict(
    client_id="3fa3ec6b-0d9b-4d0b-9a4e-5d6c0f2b7a11",
    tenant="common",
    cloud="usgov",
    login_url=None,
    graph_url=None,
    client_secret=None,
    validate_certs=True,
    ca_path=None,
    timeout=30.0,
    max_retry_wait=60.0,
)


def test_the_doc_fragment_documents_the_shared_spec():
    documented = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"]
    spec = connection_argument_spec()
    assert set(documented) == set(spec)
    for name, option in spec.items():
        assert documented[name]["type"] == option["type"], name
        assert documented[name].get("default") == option.get("default"), name
        assert documented[name].get("choices") == option.get("choices"), name
        assert documented[name].get("required", False) == option.get("required", False), name


def test_module_options_are_added_and_the_shared_ones_kept():
    spec = connection_argument_spec(code=dict(type="str", no_log=True))
    assert spec["code"] == dict(type="str", no_log=True)
    assert spec["client_secret"]["no_log"] is True


def test_client_from_params_validates_and_builds_the_endpoints():
    with transport_from_params(PARAMS) as transport:
        client = client_from_params(PARAMS, transport)
    assert client.endpoints.token == "https://login.microsoftonline.us/common/oauth2/v2.0/token"
    with pytest.raises(OneDriveError, match="GUID"):
        client_from_params(dict(PARAMS, client_id="app"), transport)


@pytest.mark.parametrize("bad", [dict(timeout=0), dict(timeout=-1), dict(max_retry_wait=-0.5)])
def test_transport_limits(bad):
    with pytest.raises(OneDriveError) as raised:
        transport_from_params(dict(PARAMS, **bad))
    assert raised.value.reason == "invalid_option"
