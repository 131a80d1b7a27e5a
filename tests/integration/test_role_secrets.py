"""No code, token, verifier or secret in anything the roles show, at -vvvv and in diff mode."""

from __future__ import annotations


def everything_shown(run):
    """The run's output and every file Ansible left in its temporary folders."""
    texts = [run.output]
    for path in run.tmp_dir.rglob("*"):
        if path.is_file():
            texts.append(path.read_text(errors="replace"))
    return "\n".join(texts)


def test_bootstrap_rotate_and_plugin_show_no_secret_at_vvvv(emulator, collection_playbook, tmp_path):
    shown = []
    first = collection_playbook("bootstrap", verbosity=4, diff=True)
    shown.append(everything_shown(first))
    url = next(word for word in first.output.split('"') if "/oauth2/v2.0/authorize?" in word)
    answer = emulator.sign_in(url, "adele@contoso.onmicrosoft.com")
    runs = [
        collection_playbook("bootstrap", verbosity=4, diff=True, extra_vars={"onedrive_auth_response": answer}),
        collection_playbook("rotate", verbosity=4, diff=True, extra_vars={"onedrive_rotate_force": True}),
        collection_playbook(
            "configure_plugin", verbosity=4, diff=True,
            extra_vars={"onedrive_plugin_config_path": str(tmp_path / "plugin.json"), "onedrive_rotate_after": "0"},
        ),
    ]
    for run in runs:
        assert run.rc == 0, run.output
        shown.append(everything_shown(run))
    text = "\n".join(shown)

    secrets = set(emulator.issued()) | {collection_playbook.password_file.read_text().strip()}
    stored = collection_playbook.read()["onedrive_connections"]["robot1"]
    secrets |= {stored["refresh_token"], stored["access_token"]}
    assert len(secrets) > 8
    leaked = [secret[:8] + "..." for secret in secrets if secret in text]
    assert not leaked
    # The runs did show what they did.
    assert "Connection robot1 now works" in text and "robot1: rotated" in text
