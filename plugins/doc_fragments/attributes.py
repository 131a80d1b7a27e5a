# Copyright: onedrive.connection contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # The attribute ansible-core's action_common_attributes does not define; each module says its support.
    DOCUMENTATION = r"""
options: {}
attributes:
  idempotent:
    description:
      - When run twice in a row with the same options, outside check mode, the second run reports no change and
        changes nothing, here or at Microsoft.
"""
