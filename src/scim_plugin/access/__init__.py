"""Who may call the SCIM API, and what is remembered of each call.

Owns tokens (issuing, verifying, revoking), authentication of a request per provisioning method,
the service-origin check, the IP gate, the per-tenant rate limit, the audit trail, and a tenant's
settings (``tenants``). The built-in hook implementations behind these live in ``access.builtin``.
Built on :mod:`scim_plugin.storage`.
"""
