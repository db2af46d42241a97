"""Example applications that embed scim-plugin (importable as ``examples.host_app``)."""
