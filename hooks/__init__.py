"""The hook contract as documents (``*.md``) plus runnable recipes; never imported by the package."""
