"""Example ``scim_*`` hook implementations, loaded by module path through ``SCIM_PLUGINS``.

Each recipe is executed against the example host by ``tests/test_recipes.py``.
"""
