# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# This file only documents the action plugin of the same name (plugins/action/vault_config.py), which does the work.

from __future__ import annotations

DOCUMENTATION = r"""
---
module: vault_config
short_description: Store OneDrive connections in an ansible-vault encrypted vars file or OpenBao/Vault, idempotently
version_added: 1.0.0
author: onedrive.connection maintainers (@onedrive-connection)
description:
  - Sets fields of one or more OneDrive connections, or removes connections, in a vars file on the controller
    that is encrypted with ansible-vault, using the vault secrets the play has loaded.
  - The file keeps all connections under one variable, O(key). Fields, connections and other variables that
    the task does not name are kept as they are.
  - Idempotent. The plugin decrypts what exists and compares the decrypted data, never the ciphertext (every
    encryption uses a fresh salt). When the data already matches, the file is not touched at all; it keeps its
    bytes and its modification time. Only a real change re-encrypts.
  - Crash safe. A new file is written to a temporary file in the same folder, flushed to disk and renamed into
    place, so the path always holds either the complete old file or the complete new one.
  - Safe with concurrent writers. An exclusive lock on a hidden sibling file (C(.<name>.lock), never removed)
    is held while the file is read, merged and written. Many plays can update different connections of the
    same file at the same time, and every update lands. With O(expect), an update of a connection lands only
    while the connection still holds what the update was computed from.
  - A file that cannot be decrypted with the loaded secrets, that is not valid YAML, or whose O(key) is not a
    mapping is left exactly as it is, and the error says which of these it is.
  - The result is an ordinary Ansible vars file. M(ansible.builtin.include_vars), C(vars_files) and
    C(ansible-vault view) (for O(encryption=file)) read it.
  - With O(store=hashi_vault) the connections are secrets of OpenBao or HashiCorp Vault instead, one per
    connection, each written check-and-set, so that a concurrent writer is read again rather than overwritten;
    the file's options (O(path), O(key), O(encryption), O(vault_id), O(mode), O(backup), O(lock_timeout)) do
    not apply.
extends_documentation_fragment:
  - onedrive.connection.store
  - action_common_attributes
  - action_common_attributes.flow
  - action_common_attributes.files
  - onedrive.connection.attributes
options:
  path:
    description:
      - The vars file on the controller. It is created, with any missing folders (mode C(0700)), when missing.
      - Required with O(store=ansible_vault).
      - A relative path is relative to the playbook's folder.
      - When O(path) is a symbolic link, the file it points to is updated (and created, when the link points
        to no file), provided the link is owned by the user running the play, by root, or by the owner of its
        folder. A link of anyone else is refused, see the notes.
    type: path
  key:
    description:
      - The top-level variable that maps connection names to their fields.
      - With O(store=hashi_vault), any other value names a folder below O(hashi_vault.path) that keeps its
        entries (the bootstrap role keeps pending sign-ins so), and the default the folder itself.
    type: str
    default: onedrive_connections
  connection:
    description:
      - The name of the connection to update or remove.
      - Exactly one of O(connection) and O(connections) is required.
    type: str
  values:
    description:
      - The fields to set on O(connection), for example C(client_id), C(tenant), C(cloud), C(scopes),
        C(refresh_token), C(obtained_at), C(rotated_at), C(user_principal_name) and C(drive_id).
      - Fields not named here keep their stored values. Omitted, the connection is only made to exist.
      - Only with O(connection) and O(state=present).
    type: dict
  connections:
    description:
      - Several connections at once, as a mapping of connection name to the fields to set, written with one
        encryption and one file replacement however many connections change.
      - With O(state=absent), the named connections are removed and the fields given for them are ignored.
    type: dict
  expect:
    description:
      - Makes the task a compare-and-set. A mapping of connection name to fields and the values they must
        still hold, for example the C(refresh_token) the new values were obtained from.
      - A connection named here is updated or removed only if, at the moment the file is written (under the
        lock, after any other writer has finished), each of these fields holds exactly the given value. A field
        or connection that is not stored matches only V(null). Other connections are not affected.
      - A connection whose stored fields differ is left as it is and listed in RV(connections_skipped); that
        is not a failure.
      - Every name must be one the task updates or removes. The values never appear in the result or in a
        message, so they may be secrets.
      - "The guarantee, for rotated tokens: when each writer of a new refresh token expects the token it was
        rotated from, a token is stored only over its own predecessor. It is therefore never stored over a
        token that was stored after the one it was rotated from, so the stored token only ever moves forward
        along its chain. When two runs rotate the same token at once, the first to write wins and the
        other's token, a sibling rotated from the same one, is not stored."
    type: dict
  state:
    description:
      - V(present) sets the fields, creating the connection if needed. V(absent) removes the connection.
    type: str
    choices: [present, absent]
    default: present
  encryption:
    description:
      - V(file) encrypts the whole file as one vault.
      - V(inline) writes plain YAML in which every O(secret_fields) value is an inline C(!vault) value, so a
        version-control diff shows which connection changed. A value that is unchanged keeps its C(!vault)
        ciphertext byte for byte. A field already stored as C(!vault) stays encrypted, whatever its name.
      - A file encrypted as a whole is never rewritten with O(encryption=inline), which would leave its other
        variables in plain text; a plain file is encrypted as a whole when O(encryption=file).
      - Each inline value needs its own key derivation, so for hundreds of connections V(file) is much faster.
    type: str
    choices: [file, inline]
    default: file
  secret_fields:
    description:
      - The fields of a connection whose values are secrets. Their values never appear in the result, in the
        diff or in an error message, and O(encryption=inline) encrypts them.
      - With O(encryption=inline), their values must be strings.
    type: list
    elements: str
    default: [refresh_token, access_token, client_secret]
  vault_id:
    description:
      - The vault identity, among those the play loaded, that encrypts the file.
      - Defaults to the configured encrypt identity (C(vault_encrypt_identity) in C(ansible.cfg) or
        E(ANSIBLE_VAULT_ENCRYPT_IDENTITY)), or else the only identity loaded. When several are loaded and none
        is chosen, the task fails rather than guess.
      - Decrypting tries every loaded secret, as Ansible does.
    type: str
  mode:
    description:
      - The permissions of the file, as a quoted octal string such as V('0600') (an unquoted C(0600) also works,
        since YAML reads it as an octal number).
      - An existing file with other permissions is changed to these, without rewriting its content.
    type: raw
    default: '0600'
  backup:
    description:
      - Before a change replaces the file, keep a copy of the old file next to it, named like the backups of
        ansible.builtin modules (C(<path>.<pid>.<timestamp>~)) and with the old file's permissions.
    type: bool
    default: false
  lock_timeout:
    description:
      - How many seconds to wait for other writers of the same file before failing.
    type: float
    default: 60
attributes:
  idempotent:
    support: full
    details:
      - Compares the decrypted content, not the ciphertext, and writes nothing when it is equal.
  action:
    support: full
  async:
    support: none
  bypass_host_loop:
    support: none
  check_mode:
    support: full
    details:
      - Reports whether the file would change, and which fields, without creating, locking or writing anything.
  diff_mode:
    support: full
    details:
      - Shows, for each connection that changes, its fields before and after, with every secret value replaced
        by C(********) and a changed secret by C(******** (changed)).
  platform:
    support: full
    platforms: posix
    details:
      - Runs on the controller, whatever the target host is.
  safe_file_operations:
    support: full
  vault:
    support: full
notes:
  - >-
    Secrets and logging. Ansible shows a task's arguments only when C(display_args_to_stdout) is enabled (in the
    task banner, before any plugin runs) or when a result carries them back. This plugin returns no argument and
    no secret value, so a task without C(no_log) shows nothing secret at any verbosity, and its diff stays
    visible with secrets masked. The result is deliberately not marked no_log, since that would censor the
    masked diff as well. Set C(no_log: true) on the task when C(display_args_to_stdout) is enabled, and use
    C(loop_control.label) when looping over items that hold secrets; C(no_log) also hides the diff.
  - The file is rewritten from its data, so comments and formatting are not kept when it changes. Strings that
    contain C({{), C({%) or C({#) are written as C(!unsafe), so Ansible loads them as they were stored instead of
    evaluating them as templates.
  - >-
    With several hosts in the play, every host runs the task against the same controller file; use
    C(run_once: true).
  - >-
    Files another user may have planted. In a folder other users can write to, a symbolic link at O(path), or
    in place of the lock file C(.<name>.lock), could redirect the write, create a file elsewhere or block every
    writer. A symbolic link at O(path) (or in a chain of links from it) is followed only when it is owned by
    the user running the play, by root, or by the owner of its folder, as the kernel's C(fs.protected_symlinks)
    rule has it; any other fails the task without touching its target. The lock file is never followed as a
    link, and must be a plain file owned by one of those users; otherwise the task fails and names it. Remove
    such a file while no play writes the vault, and keep the folder writable only by the users who write it.
  - >-
    Owner. Rewriting an existing file keeps its owner and group where the user running the play may set them
    (root may; another user may keep a group it is a member of). Where it may not, the new file belongs to that
    user, and the task warns with the C(chown) command that gives it back.
  - >-
    Temporary files. A write goes through a hidden temporary file C(.<name>.<random>.partial) beside the file.
    A writer killed before the rename leaves it behind, and the next writer of the same file removes it; the
    temporaries of any other file (a C(<name>.bak) beside it) are left alone.
seealso:
  - module: ansible.builtin.include_vars
  - ref: playbooks_vault
    description: Protecting sensitive data with Ansible vault.
"""

EXAMPLES = r"""
- name: Store a newly redeemed refresh token
  onedrive.connection.vault_config:
    path: "{{ playbook_dir }}/vault/onedrive.yml"
    connection: backup-robot
    values:
      client_id: 11111111-2222-3333-4444-555555555555
      tenant: organizations
      scopes: [Files.ReadWrite, offline_access]
      refresh_token: "{{ redeemed.refresh_token }}"
      obtained_at: "{{ now(utc=true).isoformat() }}"
  run_once: true

- name: Keep secrets as inline !vault values in a file kept in git
  onedrive.connection.vault_config:
    path: group_vars/all/onedrive.yml
    encryption: inline
    connection: backup-robot
    values:
      refresh_token: "{{ rotated.refresh_token }}"
      rotated_at: "{{ now(utc=true).isoformat() }}"

- name: Store every rotated connection with a single write
  onedrive.connection.vault_config:
    path: vault/onedrive.yml
    connections: "{{ rotated_tokens }}"
    vault_id: prod

- name: Store rotated tokens only over the tokens they were rotated from
  onedrive.connection.vault_config:
    path: vault/onedrive.yml
    connections: "{{ rotation.updates }}"
    expect: >-
      {%- set expected = {} -%}
      {%- for name in rotation.updates -%}
      {%- set _ = expected.update({name: {'refresh_token': stored.onedrive_connections[name].refresh_token}}) -%}
      {%- endfor -%}
      {{ expected }}
  register: stored_tokens

- name: Store a connection in OpenBao or HashiCorp Vault (VAULT_ADDR and VAULT_TOKEN from the environment)
  onedrive.connection.vault_config:
    store: hashi_vault
    hashi_vault:
      path: onedrive/connections
    connection: backup-robot
    values:
      refresh_token: "{{ redeemed.refresh_token }}"
      obtained_at: "{{ now(utc=true).isoformat() }}"

- name: Remove a connection
  onedrive.connection.vault_config:
    path: vault/onedrive.yml
    connection: old-robot
    state: absent
    backup: true

- name: Load the connections afterwards
  ansible.builtin.include_vars:
    file: vault/onedrive.yml
"""

RETURN = r"""
path:
  description: The path of the file, made absolute; with O(store=hashi_vault), the server's URL of the folder.
  returned: always
  type: str
  sample: /home/ops/site/vault/onedrive.yml
connection:
  description: The connection the task named.
  returned: when O(connection) is given
  type: str
  sample: backup-robot
fields_changed:
  description:
    - The names of the fields of O(connection) that changed or would change, sorted. Names only, never values.
    - For a removed connection, all of its fields; empty for a new connection with no fields.
  returned: when O(connection) is given
  type: list
  elements: str
  sample: [refresh_token, rotated_at]
connections_changed:
  description:
    - For each connection that changed or would change, the sorted names of its changed fields.
  returned: when O(connections) is given
  type: dict
  sample: {robot-1: [refresh_token, rotated_at], robot-7: [refresh_token, rotated_at]}
connections_skipped:
  description:
    - The connections, sorted, that were left as they were because their stored fields did not hold the values
      in O(expect).
  returned: when O(expect) is given
  type: list
  elements: str
  sample: [robot-7]
reason:
  description:
    - With O(store=hashi_vault), why the server refused the task, which then changed nothing
      (V(store_unavailable), V(store_denied) or V(store_invalid), as for M(onedrive.connection.rotate_tokens)).
  returned: when the store refused the task
  type: str
  sample: store_unavailable
backup_file:
  description: The copy of the old file made before the change.
  returned: when O(backup=true) and an existing file was replaced
  type: str
  sample: /home/ops/site/vault/onedrive.yml.4242.2026-01-31@09:15:02~
"""
