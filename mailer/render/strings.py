"""The few words the layouts themselves say, in the languages issues are written in."""

from __future__ import annotations

STRINGS: dict[str, dict[str, str]] = {
    "en": {
        "issue": "Issue {number}, {year}",
        "view": "View in your browser",
        "unsubscribe": "Unsubscribe",
        "preferences": "Manage preferences",
        "why": "You receive this email because you subscribed to {list}.",
        "links": "Links",
        "sent_by": "Sent by",
        "reader": "reader",  # the name a greeting uses on the web archive
    },
    "zh": {
        "issue": "{year}年第{number}期",
        "view": "在浏览器中查看",
        "unsubscribe": "退订",
        "preferences": "管理订阅偏好",
        "why": "您收到此邮件，是因为您订阅了{list}。",
        "links": "链接",
        "sent_by": "发件方",
        "reader": "读者",
    },
}


def strings_for(language: str) -> dict[str, str]:
    return STRINGS.get(language.split("-")[0].lower(), STRINGS["en"])
