"""The words of the subscriber pages and the confirmation email, English and Chinese."""

from __future__ import annotations

WORDS: dict[str, dict[str, str]] = {
    "en": {
        "subscribe_title": "Subscribe to {list}",
        "email": "Email address",
        "name": "Name (optional)",
        "language": "Language",
        "subscribe": "Subscribe",
        "check_inbox_title": "Check your inbox",
        "check_inbox": "If {email} can be subscribed, a message is on its way to it. "
        "Open the link in it to confirm your subscription to {list}.",
        "subscribed_title": "Thank you",
        "subscribed": "{email} will receive {list}.",
        "confirm_subject": "Confirm your subscription to {list}",
        "confirm_intro": "Please confirm that you want to receive {list}.",
        "confirm_button": "Confirm my subscription",
        "confirm_ignore": "If you did not ask for this, ignore this message: "
        "nothing will be sent to you. The link works for {hours} hours.",
        "confirm_title": "Confirm your subscription",
        "confirm_page": "One more step: press the button to start receiving {list}.",
        "confirmed_title": "Subscription confirmed",
        "confirmed": "You are now subscribed to {list}.",
        "already_title": "Already confirmed",
        "already": "This link was used before: your subscription to {list} is confirmed.",
        "expired_title": "This link has expired",
        "expired": "Confirmation links work for {hours} hours. Ask for a new one:",
        "resend": "Send me a new link",
        "resent_title": "A new link is on its way",
        "resent": "Check your inbox for a new confirmation link.",
        "invalid_title": "This link is not valid",
        "invalid": "The link may be incomplete. Copy the whole link from the email, "
        "or subscribe again.",
        "gone_title": "Nothing to confirm",
        "gone": "This subscription no longer exists.",
        "unsubscribe_title": "Unsubscribe from {list}",
        "unsubscribe_intro": "You are unsubscribing {email} from {list}.",
        "unsubscribe_button": "Unsubscribe",
        "unsubscribe_all": "Unsubscribe from everything",
        "unsubscribed_title": "You are unsubscribed",
        "unsubscribed": "{email} will no longer receive {list}.",
        "unsubscribed_all": "{email} will receive nothing more from us.",
        "manage": "Manage your preferences",
        "preferences_title": "Your preferences",
        "lists": "Newsletters",
        "save": "Save",
        "saved": "Your preferences are saved.",
        "archive_title": "Past issues",
        "archive_empty": "No issues have been sent yet.",
        "too_many_title": "Too many requests",
        "too_many": "Too many requests. Please wait a little and try again.",
        "bad_request": "Please check the form: {problem}",
        "check_field": "Please check the {field}: {problem}",
        "field_email": "email address",
        "field_name": "name",
        "field_language": "language",
        "field_lists": "newsletters",
        "unsubscribe_all_note": "This stops all mail from {sender}: every newsletter, "
        "now and later.",
        "resubscribe": "Unsubscribed by mistake? Subscribe again",
    },
    "zh": {
        "subscribe_title": "订阅{list}",
        "email": "电子邮件地址",
        "name": "姓名（可选）",
        "language": "语言",
        "subscribe": "订阅",
        "check_inbox_title": "请查收邮件",
        "check_inbox": "如果 {email} 可以订阅，一封邮件正在发往该地址。"
        "请打开其中的链接，确认订阅{list}。",
        "subscribed_title": "谢谢",
        "subscribed": "{email} 将收到{list}。",
        "confirm_subject": "请确认订阅{list}",
        "confirm_intro": "请确认您希望收到{list}。",
        "confirm_button": "确认订阅",
        "confirm_title": "确认订阅",
        "confirm_page": "还差一步：请点击按钮，开始接收{list}。",
        "confirm_ignore": "如果这不是您的请求，请忽略此邮件，我们不会向您发送任何内容。"
        "链接在 {hours} 小时内有效。",
        "confirmed_title": "订阅已确认",
        "confirmed": "您已订阅{list}。",
        "already_title": "已经确认",
        "already": "此链接已使用过：您对{list}的订阅已确认。",
        "expired_title": "链接已过期",
        "expired": "确认链接在 {hours} 小时内有效。请索取新链接：",
        "resend": "发送新链接",
        "resent_title": "新链接已发送",
        "resent": "请查收新的确认链接。",
        "invalid_title": "链接无效",
        "invalid": "链接可能不完整。请从邮件中复制完整链接，或重新订阅。",
        "gone_title": "无需确认",
        "gone": "此订阅已不存在。",
        "unsubscribe_title": "退订{list}",
        "unsubscribe_intro": "您正在为 {email} 退订{list}。",
        "unsubscribe_button": "退订",
        "unsubscribe_all": "退订全部",
        "unsubscribed_title": "您已退订",
        "unsubscribed": "{email} 将不再收到{list}。",
        "unsubscribed_all": "{email} 将不再收到我们的任何邮件。",
        "manage": "管理订阅偏好",
        "preferences_title": "您的偏好",
        "lists": "通讯",
        "save": "保存",
        "saved": "您的偏好已保存。",
        "archive_title": "往期通讯",
        "archive_empty": "尚未发送任何通讯。",
        "too_many_title": "请求过多",
        "too_many": "请求过多，请稍后再试。",
        "bad_request": "请检查表单：{problem}",
        "check_field": "请检查{field}：{problem}",
        "field_email": "电子邮件地址",
        "field_name": "姓名",
        "field_language": "语言",
        "field_lists": "订阅列表",
        "unsubscribe_all_note": "这将停止{sender}发出的所有邮件：所有通讯，包括今后的。",
        "resubscribe": "误退订？重新订阅",
    },
}


def words(language: str | None) -> dict[str, str]:
    return WORDS.get((language or "en").split("-")[0].lower(), WORDS["en"])


def negotiate(accept_language: str | None, preferred: str | None = None) -> str:
    """The subscriber's language if we speak it, else the best of Accept-Language."""
    if preferred and preferred.split("-")[0].lower() in WORDS:
        return preferred.split("-")[0].lower()
    choices = []
    for part in (accept_language or "").split(","):
        tag, _, q = part.strip().partition(";q=")
        try:
            weight = float(q) if q else 1.0
        except ValueError:
            weight = 0.0
        primary = tag.split("-")[0].lower()
        if primary in WORDS:
            choices.append((weight, primary))
    return max(choices)[1] if choices else "en"
