# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""YAML as Ansible reads vars files: inline `!vault` values and `!unsafe` strings survive a load and a dump."""

from __future__ import annotations

import yaml

from ansible.errors import AnsibleError

_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_BaseDumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

# Ansible templates strings it loads from vars files; stored data must never be evaluated as a template.
_TEMPLATE_MARKERS = ("{{", "{%", "{#")


class InvalidYaml(Exception):
    """The text is not YAML Ansible can load. The message gives the position only, never the text there."""


class UndecryptableValue(Exception):
    """An inline `!vault` value that the loaded vault secrets cannot open."""


class VaultValue:
    """An inline `!vault` value, kept as the ciphertext it was read as and decrypted only when compared.

    Keeping the ciphertext means that rewriting a file leaves the `!vault` blocks of unchanged values
    byte-for-byte as they were, so a version-control diff shows only what really changed.
    """

    __slots__ = ("ciphertext", "_vault", "_plaintext")

    def __init__(self, ciphertext: str, vault, plaintext: str | None = None):
        self.ciphertext = ciphertext
        self._vault = vault
        self._plaintext = plaintext

    @classmethod
    def encrypt(cls, plaintext: str, vault, secret, vault_id: str) -> VaultValue:
        ciphertext = vault.encrypt(plaintext, secret, vault_id=vault_id).decode("ascii")
        return cls(ciphertext, vault, plaintext)

    def plaintext(self) -> str:
        if self._plaintext is None:
            try:
                self._plaintext = self._vault.decrypt(self.ciphertext).decode("utf-8")
            except (AnsibleError, UnicodeDecodeError):
                raise UndecryptableValue("cannot be decrypted with the loaded vault secrets") from None
        return self._plaintext

    def __repr__(self) -> str:
        return "VaultValue(<encrypted>)"


class _Loader(_BaseLoader):
    vault = None

    def construct_vault(self, node):
        return VaultValue(self.construct_scalar(node), self.vault)

    def construct_unsafe(self, node):
        # The dumper marks every string that needs it again, so the loaded value can be a plain one.
        if isinstance(node, yaml.ScalarNode):
            return self.construct_scalar(node)
        if isinstance(node, yaml.SequenceNode):
            return self.construct_sequence(node, deep=True)
        return self.construct_mapping(node, deep=True)


_Loader.add_constructor("!vault", _Loader.construct_vault)
_Loader.add_constructor("!vault-encrypted", _Loader.construct_vault)
_Loader.add_constructor("!unsafe", _Loader.construct_unsafe)


class _Dumper(_BaseDumper):
    def represent_vault(self, data: VaultValue):
        return self.represent_scalar("!vault", data.ciphertext, style="|")

    def represent_text(self, data: str):
        if any(marker in data for marker in _TEMPLATE_MARKERS):
            return self.represent_scalar("!unsafe", data)
        return self.represent_str(data)


_Dumper.add_representer(VaultValue, _Dumper.represent_vault)
_Dumper.add_representer(str, _Dumper.represent_text)


def load(text: str, vault) -> object:
    """Parse text; `!vault` values become VaultValue objects that decrypt with vault when asked."""
    loader = _Loader(text)
    loader.vault = vault
    try:
        return loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" (problem at line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise InvalidYaml(f"is not valid YAML{where}") from None
    except yaml.YAMLError:
        raise InvalidYaml("is not valid YAML") from None
    finally:
        loader.dispose()


def dump(data: object) -> str:
    return yaml.dump(
        data,
        Dumper=_Dumper,
        default_flow_style=False,
        sort_keys=False,
        allow_unicode=True,
        width=1 << 16,  # long values on one line: no folding that makes diffs noisy
    )
