"""Shared pytest set-up: the collection import path and the emulator fixtures."""

from __future__ import annotations

import os
import pathlib

REPO = pathlib.Path(__file__).resolve().parent.parent

# Ansible finds collections only under an ansible_collections/<namespace>/<name> layout; the repository is
# the collection, so a link under .build provides that layout (pytest.ini puts .build/collections on sys.path).
_LINK = REPO / ".build" / "collections" / "ansible_collections" / "onedrive" / "connection"
if not _LINK.exists():
    _LINK.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(os.path.relpath(REPO, _LINK.parent), _LINK)

# --- emulator fixtures ---
