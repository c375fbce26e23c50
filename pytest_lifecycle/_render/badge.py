"""An SVG badge of a certificate, shields.io style: ``pytest-lifecycle | certified``.

Green when certified, yellow when certified (non-strict), red when not
certified, grey when the certificate has no provider.  With *provider*,
the badge shows that provider's verdict instead of the worst over all.
Text widths are estimated from Verdana's advance widths at 11px (what
shields.io uses), so no font is needed to lay it out.
"""

from __future__ import annotations

from typing import Final
from xml.sax.saxutils import escape, quoteattr

from pytest_lifecycle._render import CERTIFIED, NON_STRICT, NOT_CERTIFIED, Certificate, provider_names

__all__ = ["COLOURS", "LABEL", "NO_PROVIDER", "render"]

LABEL: Final = "pytest-lifecycle"
NO_PROVIDER: Final = "no provider"
COLOURS: Final = {CERTIFIED: "#4c1", NON_STRICT: "#dfb317", NOT_CERTIFIED: "#e05d44", NO_PROVIDER: "#9f9f9f"}

#: Verdana 11px advance widths, by character class (close enough for a badge).
_NARROW: Final = frozenset("fijlrtI.,:;!'()[]| ")
_WIDE: Final = frozenset("mwMW@%")


def _width(text: str) -> int:
    return round(sum(3.9 if c in _NARROW else 10.5 if c in _WIDE else 7.4 if c.isupper() else 6.6 for c in text))


def render(cert: Certificate, provider: str | None = None) -> str:
    """The badge of *cert* (or of one *provider* in it) as an SVG document.

    :raises KeyError: *provider* is not in the certificate (the message names those that are).
    """
    names = provider_names(cert)
    if provider is not None:
        if provider not in names:
            raise KeyError(f"no provider {provider!r} in the certificate; it has: {', '.join(names) or 'none'}")
        message = str(cert["providers"][provider].get("verdict", NOT_CERTIFIED))
    else:
        message = str(cert.get("verdict", NOT_CERTIFIED)) if names else NO_PROVIDER
    colour = COLOURS.get(message, COLOURS[NOT_CERTIFIED])
    label_w, message_w = _width(LABEL) + 10, _width(message) + 10
    total = label_w + message_w
    title = f"{LABEL}: {message}" + (f" ({provider})" if provider is not None else "")
    # Text is drawn at 10× and scaled down, as shields.io does, for crisp kerning.
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{total}" height="20" role="img" aria-label={quoteattr(title)}>'
        f"<title>{escape(title)}</title>"
        '<linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/>'
        '<stop offset="1" stop-opacity=".1"/></linearGradient>'
        f'<clipPath id="r"><rect width="{total}" height="20" rx="3" fill="#fff"/></clipPath>'
        f'<g clip-path="url(#r)"><rect width="{label_w}" height="20" fill="#555"/>'
        f'<rect x="{label_w}" width="{message_w}" height="20" fill="{colour}"/>'
        f'<rect width="{total}" height="20" fill="url(#s)"/></g>'
        '<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" '
        'text-rendering="geometricPrecision" font-size="110">'
        f'<text aria-hidden="true" x="{label_w * 5}" y="150" fill="#010101" fill-opacity=".3" transform="scale(.1)" '
        f'textLength="{(label_w - 10) * 10}">{escape(LABEL)}</text>'
        f'<text x="{label_w * 5}" y="140" transform="scale(.1)" textLength="{(label_w - 10) * 10}">{escape(LABEL)}</text>'
        f'<text aria-hidden="true" x="{(label_w + message_w / 2) * 10:.0f}" y="150" fill="#010101" fill-opacity=".3" '
        f'transform="scale(.1)" textLength="{(message_w - 10) * 10}">{escape(message)}</text>'
        f'<text x="{(label_w + message_w / 2) * 10:.0f}" y="140" transform="scale(.1)" '
        f'textLength="{(message_w - 10) * 10}">{escape(message)}</text>'
        "</g></svg>\n"
    )
