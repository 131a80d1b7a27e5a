# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What an update does to a mapping of connections: merge, strict comparison, expectations, and the masked view
for diffs."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping

from ansible_collections.onedrive.connection.plugins.plugin_utils import vault_yaml
from ansible_collections.onedrive.connection.plugins.plugin_utils.vault_yaml import UndecryptableValue, VaultValue


class _Removed:
    def __repr__(self) -> str:
        return "REMOVED"


# As the value of a field in an update: the field is removed from the connection.
REMOVED = _Removed()

MASK = "********"
CHANGED_MASK = "******** (changed)"


def same(stored: object, wanted: object) -> bool:
    """Whether a stored value already is the wanted one. Types count: 1 is not true and '1' is not 1."""
    if isinstance(stored, VaultValue):
        return isinstance(wanted, str) and stored.plaintext() == wanted
    if type(stored) is not type(wanted):
        return False
    if isinstance(stored, dict):
        return stored.keys() == wanted.keys() and all(same(stored[key], wanted[key]) for key in stored)
    if isinstance(stored, list):
        return len(stored) == len(wanted) and all(map(same, stored, wanted))
    return stored == wanted


def merge(
    connections: Mapping[object, dict],
    updates: Mapping[str, Mapping[str, object]],
    removals: Iterable[str] = (),
) -> tuple[dict, dict[object, list[str]]]:
    """Apply updates (fields to set, per connection) and removals (connection names) to connections.

    Returns the new mapping and, for each connection that changes, the sorted names of its changed
    fields (all of them for a removed connection, none for a new empty one). Unchanged values are the
    stored objects themselves, so inline `!vault` ciphertext of unchanged values is kept.
    """
    merged = dict(connections)
    changes = {}
    for name, values in updates.items():
        current = connections.get(name, {})
        fields = [
            field for field, value in values.items()
            if (field in current if value is REMOVED else field not in current or not _same_field(name, field, current[field], value))
        ]
        if fields or name not in connections:
            record = dict(current)
            for field in fields:
                if values[field] is REMOVED:
                    del record[field]
                else:
                    record[field] = values[field]
            merged[name] = record
            changes[name] = sorted(fields, key=str)
    for name in removals:
        if name in merged:
            changes[name] = sorted(merged.pop(name), key=str)
    return merged, changes


def unmet(connections: Mapping[object, dict], expect: Mapping[object, Mapping[str, object]]) -> list:
    """The sorted names in expect whose stored connection does not hold every expected field value.

    A field that is not stored, like a connection that is not stored, matches only an expected None.
    """
    return sorted(
        (
            name for name, fields in expect.items()
            if not all(_same_field(name, field, connections.get(name, {}).get(field), value) for field, value in fields.items())
        ),
        key=str,
    )


def _same_field(name: object, field: str, stored: object, wanted: object) -> bool:
    try:
        return same(stored, wanted)
    except UndecryptableValue as exc:
        raise UndecryptableValue(f"the stored value of field {field!r} of connection {name!r} {exc}") from None


def plain_secrets(connections: Mapping[object, dict], previous: Mapping[object, dict], secret_fields: Collection[str]) -> dict:
    """Per connection, the fields inline encryption must encrypt: plain values of secret fields, and of fields
    that were stored encrypted (a value a user chose to vault never drops to plain text)."""
    found = {}
    for name, connection in connections.items():
        before = previous.get(name, {})
        fields = [
            field for field, value in connection.items()
            if value is not None and not isinstance(value, VaultValue)
            and (field in secret_fields or isinstance(before.get(field), VaultValue))
        ]
        if fields:
            found[name] = fields
    return found


def masked(connection: Mapping[str, object], secret_fields: Collection[str], changed: Collection[str] = (), before: Mapping[str, object] | None = None) -> dict:
    """The connection as a diff may show it: secret and encrypted values replaced by a mask.

    A changed secret gets a mask of its own, so the diff still shows that it changed."""
    before = before or {}
    shown = {}
    for field, value in connection.items():
        hidden = field in secret_fields or isinstance(value, VaultValue) or isinstance(before.get(field), VaultValue)
        if hidden and value is not None:
            shown[field] = CHANGED_MASK if field in changed else MASK
        else:
            shown[field] = _masked_value(value)
    return shown


def _masked_value(value: object) -> object:
    if isinstance(value, VaultValue):
        return MASK
    if isinstance(value, dict):
        return {key: _masked_value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_masked_value(item) for item in value]
    return value


def reported(changes: Mapping[object, list[str]], hidden: Collection[str]) -> dict[object, list[str]]:
    """changes without the fields in hidden (bookkeeping such as claims), and without connections left with none.

    A connection created or removed stays, even when all of its fields are hidden."""
    shown = {}
    for name, fields in changes.items():
        kept = [field for field in fields if field not in hidden]
        if kept or not fields:
            shown[name] = kept
    return shown


def masked_diff(
    header: str,
    key: str,
    before: Mapping[object, dict],
    after: Mapping[object, dict],
    changes: Mapping[object, list[str]],
    secret_fields: Collection[str],
    hidden: Collection[str] = (),
) -> dict:
    """The diff of the changed connections, with secrets masked and the hidden fields left out."""

    def visible(record: Mapping[str, object]) -> dict:
        return {field: value for field, value in record.items() if field not in hidden}

    old = {name: masked(visible(before[name]), secret_fields) for name in changes if name in before}
    new = {
        name: masked(visible(after[name]), secret_fields, fields, before.get(name))
        for name, fields in changes.items() if name in after
    }
    return {
        "before_header": header,
        "after_header": header,
        "before": vault_yaml.dump({key: old}) if old else "",
        "after": vault_yaml.dump({key: new}) if new else "",
    }
