"""Load benchmark of the SCIM plugin against a bare Flask "ceiling" app (``make bench``).

See docs/benchmarks.md and ``python -m benchmarks --help``.
"""
