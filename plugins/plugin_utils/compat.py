# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What differs between the ansible-core releases the collection supports (2.16 to 2.21), in one place.

The controller-side plugins import these names instead of testing versions themselves.
"""

from __future__ import annotations

from collections.abc import Mapping

try:
    # ansible-core 2.19 and later: data tagging hands plugins tagged str subclasses and EncryptedString
    # values, and this is the supported way to turn them into plain Python values.
    from ansible.utils.vars import transform_to_native_types as _transform
except ImportError:
    _transform = None

if _transform is None:
    # Before 2.19, text a plugin hands back is trusted as a template unless wrapped (2.19 deprecates the wrapper).
    from ansible.utils.unsafe_proxy import wrap_var as _wrap_var
else:
    _wrap_var = None


def native(value: object) -> object:
    """``value`` as plain dicts, lists, str, int, float, bool and None, with vaulted strings decrypted.

    The YAML dumper refuses str subclasses: tagged strings (2.19 and later) as well as AnsibleUnsafeText and
    AnsibleVaultEncryptedUnicode (earlier releases), so names and values become plain types before they are
    written or become YAML keys.
    """
    if _transform is not None:
        return _transform(value, redact=False)
    return _plain(value)


def _plain(value: object) -> object:
    if value is None or type(value) in (bool, int, float, str):
        return value
    if isinstance(value, Mapping):
        return {_plain(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_plain(item) for item in value]
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        # AnsibleUnsafeText's own __str__ returns itself; str's makes a plain copy.
        return str.__str__(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    # AnsibleVaultEncryptedUnicode (not a str subclass), whose str() is its decrypted text.
    return str(value)


def unsafe(value: str) -> str:
    """``value`` as text Ansible never evaluates as a template, when a plugin hands it back.

    From 2.19 on, plain text that a plugin returns is not trusted as a template; earlier releases need it
    wrapped (there, the wrapper itself is deprecated).
    """
    plain = native(value)
    return plain if _wrap_var is None else _wrap_var(plain)


def play_vault(loader):
    """The play's VaultLib, holding the vault secrets that ansible-playbook loaded (the same attribute 2.16-2.21)."""
    return loader._vault
