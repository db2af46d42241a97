"""The public path of :mod:`scim_plugin.storage.group_mapping` for hosts and hook implementations (``from
scim_plugin.group_mapping import map_group``). This name and that module are one module object. The
plugin's own code imports the layer's path (import-linter forbids this one inside the package), so the
layers can move without breaking a host.
"""

import sys

import scim_plugin.storage.group_mapping as _moved

sys.modules[__name__] = _moved
