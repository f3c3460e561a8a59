"""Jinja2 templates, one per message and language: ``templates/<language>/<name>.txt.j2``.

The first line a template renders is the subject, the rest the body. Times are shown in
the district's local time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

import jinja2

from cordon_notification.domain.contacts import LANGUAGES


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str


class Templates:
    def __init__(self, zone: tzinfo, default_language: str = "zh-CN") -> None:
        self.default_language = default_language
        self.environment = jinja2.Environment(
            loader=jinja2.PackageLoader("cordon_notification", "templates"),
            undefined=jinja2.StrictUndefined,
            autoescape=False,  # plain text for mail, bots and SMS, never HTML
            keep_trailing_newline=False,
        )
        self.environment.filters["local"] = lambda t: _local(t, zone)

    def language(self, wanted: str | None) -> str:
        return wanted if wanted in LANGUAGES else self.default_language

    def render(self, name: str, language: str, facts: dict[str, Any]) -> Rendered:
        template = self.environment.get_template(f"{self.language(language)}/{name}.txt.j2")
        text = template.render(**facts).strip()
        subject, _, body = text.partition("\n")
        return Rendered(subject.strip(), body.strip())


def _local(moment: datetime | str, zone: tzinfo) -> str:
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")
