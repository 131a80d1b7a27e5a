from __future__ import annotations

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.onedrive.connection.plugins.modules import rotate_tokens

CLIENT_ID = "3fa3ec6b-0d9b-4d0b-9a4e-5d6c0f2b7a11"
STORED = "stored-refresh-token-SECRET"


def test_stored_tokens_reach_neither_the_result_nor_the_system_log(run_module, monkeypatch):
    logged = []
    monkeypatch.setattr(AnsibleModule, "_log_invocation", lambda self: logged.append(self.params))
    result = run_module(
        rotate_tokens.main,
        dict(client_id=CLIENT_ID, rotate_after="7d",
             connections=dict(robot1=dict(refresh_token=STORED, rotated_at="2999-01-01T00:00:00Z"))),
    )
    assert result["statuses"]["not_due"] == ["robot1"]
    assert logged == []
    assert STORED not in repr(result)
