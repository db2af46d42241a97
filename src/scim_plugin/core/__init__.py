"""The SCIM protocol, with no Flask and no database (RFC 7643 and RFC 7644).

Owns the schemas and their attributes, the filter grammar, PATCH, normalising request bodies and
rendering resources, and the SCIM errors with their ``scimType``. Everything here is a pure function
of its arguments: the layers above hand it documents and get documents back. Imports nothing from the
rest of the plugin.
"""
