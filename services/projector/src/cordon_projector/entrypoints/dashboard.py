"""The dashboard page: one self-contained HTML file (no CDN, no map tiles), drawing the
four-colour map as a grid of buildings from the JSON API, live gates from server-sent
events, in Chinese or English, laid out for a phone first."""

from __future__ import annotations

from functools import cache
from importlib import resources


@cache
def dashboard_html() -> str:
    return resources.files("cordon_projector").joinpath("static/dashboard.html").read_text("utf-8")
