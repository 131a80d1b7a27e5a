# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""YAML as Ansible reads vars files: inline `!vault` values and `!unsafe` strings survive a load and a dump."""

from __future__ import annotations

import io
from collections.abc import Hashable

import yaml
from yaml.composer import Composer
from yaml.constructor import ConstructorError
from yaml.events import (
    DocumentEndEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    StreamEndEvent,
)
from yaml.serializer import Serializer

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


class _Loader(_BaseLoader, Composer):
    # Composer's methods compose one value at a time (the C parser composes only whole documents).
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


class _Dumper(_BaseDumper, Serializer):
    # Serializer's methods write one value at a time (the C emitter serializes only whole documents).

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
    try:
        return _load(text, vault, streamed=True)
    except _Unstreamable:
        return _load(text, vault, streamed=False)


def _load(text: str, vault, streamed: bool) -> object:
    loader = _Loader(text)
    loader.vault = vault
    loader.anchors = {}
    try:
        if not streamed:
            return loader.get_single_data()
        loader.get_event()  # the stream's start
        if loader.check_event(StreamEndEvent):
            return None
        loader.get_event()  # the document's start
        data = _value(loader, _STREAMED_LEVELS)
        loader.get_event()  # the document's end
        if not loader.check_event(StreamEndEvent):
            raise InvalidYaml("is not valid YAML (it holds more than one document)")
        return data
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" (problem at line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise InvalidYaml(f"is not valid YAML{where}") from None
    except yaml.YAMLError:
        raise InvalidYaml("is not valid YAML") from None
    finally:
        loader.dispose()


# A vars file's variables, and the connections of one of them: the mappings whose values are built one at a
# time. Composing the whole document first, as PyYAML does, takes several times the memory of the data.
_STREAMED_LEVELS = 2
_MERGE = "tag:yaml.org,2002:merge"


class _Unstreamable(Exception):
    """A construct (a merge key) whose meaning depends on the whole mapping: the document is loaded whole."""


def _value(loader: _Loader, levels: int) -> object:
    event = loader.peek_event()
    if levels and isinstance(event, MappingStartEvent) and event.tag is None and event.anchor is None:
        loader.get_event()
        mapping = {}
        while not loader.check_event(MappingEndEvent):
            key_node = loader.compose_node(None, None)
            if key_node.tag == _MERGE:
                raise _Unstreamable
            key = _constructed(loader, key_node)
            if not isinstance(key, Hashable):
                raise ConstructorError("while constructing a mapping", event.start_mark, "found unhashable key",
                                       key_node.start_mark)
            mapping[key] = _value(loader, levels - 1)
        loader.get_event()
        return mapping
    return _constructed(loader, loader.compose_node(None, None))


def _constructed(loader: _Loader, node) -> object:
    data = loader.construct_object(node, deep=True)
    loader.constructed_objects.clear()
    loader.recursive_objects.clear()
    return data


def dump(data: object) -> str:
    """YAML text for data, as yaml.dump with the options below writes it; the top two levels of mappings are
    represented a value at a time, for the memory reason load gives."""
    if not isinstance(data, dict):
        return yaml.dump(data, Dumper=_Dumper, **_DUMP_OPTIONS)
    stream = io.StringIO()
    dumper = _Dumper(stream, **_DUMP_OPTIONS)
    dumper.anchors, dumper.serialized_nodes = {}, {}
    try:
        dumper.open()
        dumper.emit(DocumentStartEvent(explicit=False))
        _emit(dumper, data, _STREAMED_LEVELS)
        dumper.emit(DocumentEndEvent(explicit=False))
        dumper.close()
    finally:
        dumper.dispose()
    return stream.getvalue()


_DUMP_OPTIONS = dict(
    default_flow_style=False,
    sort_keys=False,
    allow_unicode=True,
    width=1 << 16,  # long values on one line: no folding that makes diffs noisy
)


def _emit(dumper: _Dumper, value: object, levels: int) -> None:
    if levels and isinstance(value, dict):
        dumper.emit(MappingStartEvent(anchor=None, tag=None, implicit=True, flow_style=False))
        for key, item in value.items():
            _emit(dumper, key, 0)
            _emit(dumper, item, levels - 1)
        dumper.emit(MappingEndEvent())
        return
    node = dumper.represent_data(value)
    dumper.anchor_node(node)
    dumper.serialize_node(node, None, None)
    dumper.represented_objects, dumper.object_keeper, dumper.alias_key = {}, [], None
    dumper.anchors, dumper.serialized_nodes = {}, {}
