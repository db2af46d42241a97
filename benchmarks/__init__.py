"""Load benchmark of the SCIM plugin against a bare Flask "ceiling" app (``make bench``).

See README.md, section "Benchmarks", and ``python -m benchmarks --help``.
"""
