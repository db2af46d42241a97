"""Identity keys: the one form in which user names and emails are compared, stored as unique or matched.

``identity_key`` applies the mapping rules of the PRECIS UsernameCaseMapped profile (RFC 8265 §3.3.2):
full-width and half-width characters to their decomposition (width mapping), Unicode Default Case Folding,
then NFC. So ``Ärger@example.com`` typed with a composed ``Ä`` and with ``A`` + U+0308, or with a
full-width A (U+FF21), is one user. Only the mapping: a name the profile would refuse (a space, a symbol) is
still accepted, since IdPs send such userNames and RFC 7643 does not restrict them. Documents keep the
spelling the client sent; only the key columns hold this form.
"""

from __future__ import annotations

import functools
import unicodedata


@functools.lru_cache(maxsize=4096)
def _width_mapped(char: str) -> str:
    decomposition = unicodedata.decomposition(char)
    if decomposition.startswith(("<wide>", "<narrow>")):
        return "".join(chr(int(code, 16)) for code in decomposition.split()[1:])
    return char


def identity_key(text: str) -> str:
    """``text`` as compared: width-mapped, case-folded and NFC-normalised (RFC 8265 §3.3.2)."""
    if text.isascii():
        return text.casefold()  # the usual userName: the same result without the per-character walk
    mapped = "".join(_width_mapped(char) for char in text)
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", mapped).casefold())
