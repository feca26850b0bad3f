"""Stored XSS on the map (issue 16, finding 5): a charger id with HTML became live markup in
the /map/ tooltip, because Leaflet renders a string as HTML. Dynamic text in the portal's
script goes through text nodes; the only HTML it inserts is the server-rendered (escaped)
live fragment."""

from __future__ import annotations

import re
from pathlib import Path

SCRIPT = (Path(__file__).resolve().parents[2] / "static" / "portal" / "portal.js").read_text()


def test_leaflet_tooltips_and_popups_get_elements_not_strings():
    for call in re.findall(r"\.bind(?:Tooltip|Popup)\(([^)]*)\)", SCRIPT):
        assert re.fullmatch(r"\s*[A-Za-z_]\w*\s*", call), call
        assert "+" not in call and '"' not in call


def test_html_is_only_inserted_from_the_servers_escaped_fragments():
    assignments = re.findall(r"\.(innerHTML|outerHTML)\s*=\s*([^;]+);", SCRIPT)
    assert assignments == [("innerHTML", "html")]  # the fetched live fragment (Django-escaped)
    assert "insertAdjacentHTML" not in SCRIPT and "document.write" not in SCRIPT
