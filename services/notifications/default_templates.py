"""The default notification templates: every kind in Arabic and English.

Each entry is ``(kind, locale) -> (subject, text, content)``; ``content`` is
the inner HTML that ``page(locale, content)`` wraps in the store's branded
layout. The variables each kind receives are in ``templates.VARIABLES``; a
missing one arrives as ``None`` (printed as nothing), so the defaults guard
only what would read badly when absent. The ``text`` of the self-service
kinds (tracking link, order details, rating request, direct message) is also
what an SMS carries, so it stays short.
"""
from __future__ import annotations

DEFAULT_BRAND_COLOR = "#0e7490"

_LAYOUT = """<!DOCTYPE html>
<html dir="{dir}" lang="{lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{{{ store.name }}}}</title>
</head>
<body style="margin:0;padding:0;background:#f4f5f7;">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="background:#f4f5f7;">
<tr><td align="center" style="padding:24px 12px;">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" dir="{dir}" style="max-width:600px;background:#ffffff;border-top:6px solid {{{{ store.brand_color }}}};border-radius:8px;font-family:Tahoma,Arial,sans-serif;font-size:15px;line-height:1.8;color:#1f2933;text-align:{align};">
<tr><td style="padding:20px 24px 8px 24px;font-size:18px;font-weight:bold;color:{{{{ store.brand_color }}}};">
{{% if store.logo_url %}}<img src="{{{{ store.logo_url }}}}" alt="{{{{ store.name }}}}" height="40" style="display:block;height:40px;border:0;">{{% else %}}{{{{ store.name }}}}{{% endif %}}
</td></tr>
<tr><td style="padding:8px 24px 24px 24px;">
{content}
</td></tr>
<tr><td style="padding:16px 24px;border-top:1px solid #e4e7eb;color:#7b8794;font-size:13px;">{footer}</td></tr>
</table>
</td></tr>
</table>
</body>
</html>
"""

_FOOTER = {
    "ar": "هذه الرسالة من {{ store.name }}.",
    "en": "This message was sent by {{ store.name }}.",
}


def page(locale: str, content: str) -> str:
    """The branded HTML page around ``content``: right to left for Arabic."""
    rtl = locale == "ar"
    return _LAYOUT.format(dir="rtl" if rtl else "ltr", lang=locale, align="right" if rtl else "left",
                          content=content.strip(), footer=_FOOTER[locale])


def _button(href: str, label: str) -> str:
    return (f'{{% if {href}|safe_url %}}<p style="margin:24px 0;"><a href="{{{{ {href}|safe_url }}}}" '
            'style="display:inline-block;background:{{ store.brand_color }};color:{{ store.on_brand }};'
            f'padding:10px 22px;border-radius:6px;text-decoration:none;font-weight:bold;">{label}</a></p>'
            '{% endif %}')


def _quote(expression: str) -> str:
    return ('<div style="margin:16px 0;padding:12px 16px;background:#f7f9fa;border-radius:6px;">'
            f"{{{{ {expression}|nl2br }}}}</div>")


_TICKET_AR = "{% if ticket.number %} رقم {{ ticket.number }}{% endif %}"
_TICKET_EN = "{% if ticket.number %} #{{ ticket.number }}{% endif %}"
_HELLO_AR = "{{ 'حياك الله ' ~ customer_name ~ '،' if customer_name else 'حياك الله،' }}"
_HELLO_EN = "{{ 'Hello ' ~ customer_name ~ ',' if customer_name else 'Hello,' }}"
_AGENT_HELLO_AR = "{{ 'مرحباً ' ~ agent_name ~ '،' if agent_name else 'مرحباً فريق الدعم،' }}"
_AGENT_HELLO_EN = "{{ 'Hello ' ~ agent_name ~ ',' if agent_name else 'Hello support team,' }}"
_CUSTOMER_AR = "{{ customer_name or 'العميل' }}"
_CUSTOMER_EN = "{{ customer_name or 'The customer' }}"
_STATUS_AR = ('{% set statuses = {"awaiting_review": "بانتظار المراجعة", "in_progress": "قيد التنفيذ", '
              '"completed": "تم التجهيز", "delivering": "جارٍ التوصيل", "delivered": "تم التوصيل", '
              '"cancelled": "ملغي", "refused": "مرفوض", "returned": "مسترجع"} %}')
_STATUS_EN = ('{% set statuses = {"awaiting_review": "Awaiting review", "in_progress": "In progress", '
              '"completed": "Ready", "delivering": "Out for delivery", "delivered": "Delivered", '
              '"cancelled": "Cancelled", "refused": "Refused", "returned": "Returned"} %}')
_CHANNEL_AR = '{% set channels = {"email": "البريد الإلكتروني", "sms": "الرسائل النصية"} %}'
_CHANNEL_EN = '{% set channels = {"email": "email", "sms": "SMS"} %}'

DEFAULTS: dict[tuple[str, str], tuple[str, str, str]] = {
    # --- ticket opened: the shopper's confirmation -----------------------------------------
    ("ticket_opened", "ar"): (
        "استلمنا رسالتك: {{ ticket.subject }} (تذكرة" + _TICKET_AR + ")",
        _HELLO_AR + """

شكراً لتواصلك مع {{ store.name }}. استلمنا رسالتك وفتحنا لك تذكرة""" + _TICKET_AR + """، وبيتواصل معك فريق خدمة العملاء في أقرب وقت بإذن الله.

الموضوع: {{ ticket.subject }}
{% if body %}
رسالتك:
{{ body }}
{% endif %}
نسعد بخدمتك دائماً،
فريق {{ store.name }}
""",
        "<p>" + _HELLO_AR + "</p>"
        "<p>شكراً لتواصلك مع {{ store.name }}. استلمنا رسالتك وفتحنا لك تذكرة<strong>" + _TICKET_AR
        + "</strong>، وبيتواصل معك فريق خدمة العملاء في أقرب وقت بإذن الله.</p>"
        "<p><strong>الموضوع:</strong> {{ ticket.subject }}</p>"
        "{% if body %}" + _quote("body") + "{% endif %}"
        "<p>نسعد بخدمتك دائماً،<br>فريق {{ store.name }}</p>",
    ),
    ("ticket_opened", "en"): (
        "We received your message: {{ ticket.subject }} (ticket" + _TICKET_EN + ")",
        _HELLO_EN + """

Thank you for contacting {{ store.name }}. We received your message and opened ticket""" + _TICKET_EN + """ for you; our customer service team will get back to you shortly.

Subject: {{ ticket.subject }}
{% if body %}
Your message:
{{ body }}
{% endif %}
Kind regards,
The {{ store.name }} team
""",
        "<p>" + _HELLO_EN + "</p>"
        "<p>Thank you for contacting {{ store.name }}. We received your message and opened ticket<strong>"
        + _TICKET_EN + "</strong> for you; our customer service team will get back to you shortly.</p>"
        "<p><strong>Subject:</strong> {{ ticket.subject }}</p>"
        "{% if body %}" + _quote("body") + "{% endif %}"
        "<p>Kind regards,<br>The {{ store.name }} team</p>",
    ),
    # --- a reply by staff (or the system) to the shopper -----------------------------------
    ("ticket_reply", "ar"): (
        "رد جديد على تذكرتك" + _TICKET_AR + ": {{ ticket.subject }}",
        _HELLO_AR + """

وصلك رد من {{ agent_name or "فريق خدمة العملاء" }} في {{ store.name }} على تذكرتك""" + _TICKET_AR + """:

{{ body }}

نسعد بخدمتك دائماً،
فريق {{ store.name }}
""",
        "<p>" + _HELLO_AR + "</p>"
        "<p>وصلك رد من {{ agent_name or \"فريق خدمة العملاء\" }} في {{ store.name }} على تذكرتك"
        + _TICKET_AR + ":</p>" + _quote("body")
        + "<p>نسعد بخدمتك دائماً،<br>فريق {{ store.name }}</p>",
    ),
    ("ticket_reply", "en"): (
        "New reply on your ticket" + _TICKET_EN + ": {{ ticket.subject }}",
        _HELLO_EN + """

{{ agent_name or "Our customer service team" }} at {{ store.name }} replied to your ticket""" + _TICKET_EN + """:

{{ body }}

Kind regards,
The {{ store.name }} team
""",
        "<p>" + _HELLO_EN + "</p>"
        "<p>{{ agent_name or \"Our customer service team\" }} at {{ store.name }} replied to your ticket"
        + _TICKET_EN + ":</p>" + _quote("body")
        + "<p>Kind regards,<br>The {{ store.name }} team</p>",
    ),
    # --- the shopper replied: to the assignee, else the store's support address ------------
    ("customer_replied", "ar"): (
        "رد جديد من " + _CUSTOMER_AR + " على التذكرة" + _TICKET_AR + ": {{ ticket.subject }}",
        _AGENT_HELLO_AR + """

وصل رد جديد من """ + _CUSTOMER_AR + """ على التذكرة""" + _TICKET_AR + """ ({{ ticket.subject }}):

{{ body }}

افتح التذكرة في لوحة التحكم للرد عليه.
""",
        "<p>" + _AGENT_HELLO_AR + "</p>"
        "<p>وصل رد جديد من <strong>" + _CUSTOMER_AR + "</strong> على التذكرة" + _TICKET_AR
        + " ({{ ticket.subject }}):</p>" + _quote("body")
        + "<p>افتح التذكرة في لوحة التحكم للرد عليه.</p>",
    ),
    ("customer_replied", "en"): (
        "New reply from " + _CUSTOMER_EN + " on ticket" + _TICKET_EN + ": {{ ticket.subject }}",
        _AGENT_HELLO_EN + """

""" + _CUSTOMER_EN + """ wrote a new reply on ticket""" + _TICKET_EN + """ ({{ ticket.subject }}):

{{ body }}

Open the ticket in the dashboard to answer.
""",
        "<p>" + _AGENT_HELLO_EN + "</p>"
        "<p><strong>" + _CUSTOMER_EN + "</strong> wrote a new reply on ticket" + _TICKET_EN
        + " ({{ ticket.subject }}):</p>" + _quote("body")
        + "<p>Open the ticket in the dashboard to answer.</p>",
    ),
    # --- a ticket assigned (or forwarded) to an agent ---------------------------------------
    ("ticket_assigned", "ar"): (
        "أُسندت إليك التذكرة" + _TICKET_AR + ": {{ ticket.subject }}",
        _AGENT_HELLO_AR + """

أُسندت إليك التذكرة""" + _TICKET_AR + """ في {{ store.name }}.

الموضوع: {{ ticket.subject }}{% if customer_name %}
العميل: {{ customer_name }}{% endif %}

افتح التذكرة في لوحة التحكم لمتابعتها.
""",
        "<p>" + _AGENT_HELLO_AR + "</p>"
        "<p>أُسندت إليك التذكرة<strong>" + _TICKET_AR + "</strong> في {{ store.name }}.</p>"
        "<p><strong>الموضوع:</strong> {{ ticket.subject }}"
        "{% if customer_name %}<br><strong>العميل:</strong> {{ customer_name }}{% endif %}</p>"
        "<p>افتح التذكرة في لوحة التحكم لمتابعتها.</p>",
    ),
    ("ticket_assigned", "en"): (
        "Ticket" + _TICKET_EN + " was assigned to you: {{ ticket.subject }}",
        _AGENT_HELLO_EN + """

Ticket""" + _TICKET_EN + """ at {{ store.name }} was assigned to you.

Subject: {{ ticket.subject }}{% if customer_name %}
Customer: {{ customer_name }}{% endif %}

Open the ticket in the dashboard to follow it up.
""",
        "<p>" + _AGENT_HELLO_EN + "</p>"
        "<p>Ticket<strong>" + _TICKET_EN + "</strong> at {{ store.name }} was assigned to you.</p>"
        "<p><strong>Subject:</strong> {{ ticket.subject }}"
        "{% if customer_name %}<br><strong>Customer:</strong> {{ customer_name }}{% endif %}</p>"
        "<p>Open the ticket in the dashboard to follow it up.</p>",
    ),
    # --- self-service: the tracking link of a late order (also by SMS) ----------------------
    ("tracking_link", "ar"): (
        "تتبّع طلبك{% if order.id %} رقم {{ order.id }}{% endif %} من {{ store.name }}",
        """{% if message %}{{ message }}{% else %}{{ customer_name or "عميلنا العزيز" }}، تقدر تتابع شحنة طلبك{% if order.id %} رقم {{ order.id }}{% endif %}{% if tracking_url %} من هنا: {{ tracking_url }}{% else %}، وبنرسل لك رابط التتبّع أول ما يتوفر بإذن الله.{% endif %}{% endif %}

{{ store.name }}
""",
        "<p>{% if message %}{{ message|nl2br }}{% else %}" + _HELLO_AR + "<br>"
        "تقدر تتابع شحنة طلبك{% if order.id %} رقم {{ order.id }}{% endif %}"
        "{% if tracking_url|safe_url %} من الزر أدناه.{% else %}، وبنرسل لك رابط التتبّع أول ما يتوفر بإذن الله."
        "{% endif %}{% endif %}</p>" + _button("tracking_url", "تتبّع الشحنة"),
    ),
    ("tracking_link", "en"): (
        "Track your order{% if order.id %} {{ order.id }}{% endif %} from {{ store.name }}",
        """{% if message %}{{ message }}{% else %}{{ customer_name or "Hello" }}, you can follow your order{% if order.id %} {{ order.id }}{% endif %}{% if tracking_url %} here: {{ tracking_url }}{% else %}; we will send you the tracking link as soon as it is available.{% endif %}{% endif %}

{{ store.name }}
""",
        "<p>{% if message %}{{ message|nl2br }}{% else %}" + _HELLO_EN + "<br>"
        "you can follow your order{% if order.id %} {{ order.id }}{% endif %}"
        "{% if tracking_url|safe_url %} with the button below.{% else %}; we will send you the tracking link "
        "as soon as it is available.{% endif %}{% endif %}</p>" + _button("tracking_url", "Track the shipment"),
    ),
    # --- self-service: an order's details (also by SMS) -------------------------------------
    ("order_details", "ar"): (
        "تفاصيل طلبك{% if order.id %} رقم {{ order.id }}{% endif %} من {{ store.name }}",
        _STATUS_AR + """{% if message %}{{ message }}{% else %}{{ customer_name or "عميلنا العزيز" }}، هذي تفاصيل طلبك{% if order.id %} رقم {{ order.id }}{% endif %}:
{% if order.status %}الحالة: {{ statuses.get(order.status, order.status) }}
{% endif %}{% for item in order.items %}- {{ item.quantity or 1 }} × {{ item.name }}
{% endfor %}{% if order.total %}الإجمالي: {{ order.total }} {{ order.currency }}{% endif %}{% endif %}

{{ store.name }}
""",
        _STATUS_AR + "<p>{% if message %}{{ message|nl2br }}{% else %}" + _HELLO_AR + "<br>"
        "هذي تفاصيل طلبك{% if order.id %} رقم {{ order.id }}{% endif %}:{% endif %}</p>"
        '<table role="presentation" cellpadding="6" cellspacing="0" style="width:100%;border-collapse:collapse;">'
        '{% if order.status %}<tr><td style="color:#7b8794;">الحالة</td>'
        "<td>{{ statuses.get(order.status, order.status) }}</td></tr>{% endif %}"
        '{% for item in order.items %}<tr><td style="border-top:1px solid #e4e7eb;">{{ item.name }}</td>'
        '<td style="border-top:1px solid #e4e7eb;">× {{ item.quantity or 1 }}</td></tr>{% endfor %}'
        '{% if order.total %}<tr><td style="border-top:1px solid #e4e7eb;font-weight:bold;">الإجمالي</td>'
        '<td style="border-top:1px solid #e4e7eb;font-weight:bold;">{{ order.total }} {{ order.currency }}</td>'
        "</tr>{% endif %}</table>" + _button('order.tracking_url', "تتبّع الشحنة"),
    ),
    ("order_details", "en"): (
        "Your order{% if order.id %} {{ order.id }}{% endif %} from {{ store.name }}",
        _STATUS_EN + """{% if message %}{{ message }}{% else %}{{ customer_name or "Hello" }}, here are the details of your order{% if order.id %} {{ order.id }}{% endif %}:
{% if order.status %}Status: {{ statuses.get(order.status, order.status) }}
{% endif %}{% for item in order.items %}- {{ item.quantity or 1 }} × {{ item.name }}
{% endfor %}{% if order.total %}Total: {{ order.total }} {{ order.currency }}{% endif %}{% endif %}

{{ store.name }}
""",
        _STATUS_EN + "<p>{% if message %}{{ message|nl2br }}{% else %}" + _HELLO_EN + "<br>"
        "here are the details of your order{% if order.id %} {{ order.id }}{% endif %}:{% endif %}</p>"
        '<table role="presentation" cellpadding="6" cellspacing="0" style="width:100%;border-collapse:collapse;">'
        '{% if order.status %}<tr><td style="color:#7b8794;">Status</td>'
        "<td>{{ statuses.get(order.status, order.status) }}</td></tr>{% endif %}"
        '{% for item in order.items %}<tr><td style="border-top:1px solid #e4e7eb;">{{ item.name }}</td>'
        '<td style="border-top:1px solid #e4e7eb;">× {{ item.quantity or 1 }}</td></tr>{% endfor %}'
        '{% if order.total %}<tr><td style="border-top:1px solid #e4e7eb;font-weight:bold;">Total</td>'
        '<td style="border-top:1px solid #e4e7eb;font-weight:bold;">{{ order.total }} {{ order.currency }}</td>'
        "</tr>{% endif %}</table>" + _button('order.tracking_url', "Track the shipment"),
    ),
    # --- a rating request (also by SMS) -----------------------------------------------------
    ("rating_request", "ar"): (
        "كيف كانت تجربتك مع {{ store.name }}؟",
        """{{ customer_name or "عميلنا العزيز" }}، يهمنا رأيك! قيّم تجربتك مع {{ store.name }}{% if link %} من هنا: {{ link }}{% endif %}
""",
        "<p>" + _HELLO_AR + "</p>"
        "<p>يهمنا رأيك! شاركنا تقييمك لتجربتك مع {{ store.name }}، ويسعدنا نسمع منك.</p>"
        + _button("link", "قيّم طلبك") + "<p>شكراً لك،<br>فريق {{ store.name }}</p>",
    ),
    ("rating_request", "en"): (
        "How was your experience with {{ store.name }}?",
        """{{ customer_name or "Hello" }}, your opinion matters to us! Rate your experience with {{ store.name }}{% if link %}: {{ link }}{% endif %}
""",
        "<p>" + _HELLO_EN + "</p>"
        "<p>Your opinion matters to us! Tell us how your experience with {{ store.name }} went.</p>"
        + _button("link", "Rate your order") + "<p>Thank you,<br>The {{ store.name }} team</p>",
    ),
    # --- a direct message from staff (also by SMS) -------------------------------------------
    ("direct_message", "ar"): (
        "{% if subject %}{{ subject }}{% else %}رسالة من {{ store.name }}{% endif %}",
        """{{ body }}

{{ store.name }}
""",
        "<p>" + _HELLO_AR + "</p>" + _quote("body") + "<p>فريق {{ store.name }}</p>",
    ),
    ("direct_message", "en"): (
        "{% if subject %}{{ subject }}{% else %}A message from {{ store.name }}{% endif %}",
        """{{ body }}

{{ store.name }}
""",
        "<p>" + _HELLO_EN + "</p>" + _quote("body") + "<p>The {{ store.name }} team</p>",
    ),
    # --- alerts to the store's support address ----------------------------------------------
    ("store_alert", "ar"): (
        _CHANNEL_AR + "تنبيه من المنصة: "
        "{% if alert == 'quota_reached' %}وصلتم للحد الأعلى للإرسال عبر {{ channels.get(channel, channel) }} في الساعة"
        "{% elif alert == 'webhook_failing' %}تعذّر توصيل الأحداث إلى {{ url }}"
        "{% else %}{{ message or alert }}{% endif %}",
        _CHANNEL_AR + """مرحباً فريق {{ store.name }}،

{% if alert == 'quota_reached' %}بلغ متجركم الحد الأعلى للإرسال عبر {{ channels.get(channel, channel) }} ({{ quota }} رسالة في الساعة){% if window_start %} في الساعة التي بدأت {{ window_start }}{% endif %}. الرسائل الزائدة محجوزة، وبترسل تلقائياً أول ما يتوفر مجال ضمن الحد. تقدرون تعدّلون الحد من إعدادات الإشعارات.
{% elif alert == 'webhook_failing' %}ما قدرنا نوصّل الأحداث إلى عنوان الويب هوك {{ url }} رغم المحاولات المتكررة لأكثر من 24 ساعة، فصار العنوان في حالة تعثّر.
{% if last_error %}
آخر خطأ: {{ last_error }}
{% endif %}
تأكدوا من عمل الخادم المستقبل، ثم أعيدوا إرسال الأحداث الفائتة من سجل التوصيل.
{% else %}{{ message or alert }}
{% endif %}""",
        _CHANNEL_AR + "<p>مرحباً فريق {{ store.name }}،</p>"
        "{% if alert == 'quota_reached' %}<p>بلغ متجركم الحد الأعلى للإرسال عبر {{ channels.get(channel, channel) }} "
        "(<strong>{{ quota }}</strong> رسالة في الساعة){% if window_start %} في الساعة التي بدأت {{ window_start }}"
        "{% endif %}. الرسائل الزائدة محجوزة، وبترسل تلقائياً أول ما يتوفر مجال ضمن الحد. تقدرون تعدّلون الحد من "
        "إعدادات الإشعارات.</p>"
        "{% elif alert == 'webhook_failing' %}<p>ما قدرنا نوصّل الأحداث إلى عنوان الويب هوك "
        '<span dir="ltr">{{ url }}</span> رغم المحاولات المتكررة لأكثر من 24 ساعة، فصار العنوان في حالة تعثّر.</p>'
        "{% if last_error %}" + _quote("last_error") + "{% endif %}"
        "<p>تأكدوا من عمل الخادم المستقبل، ثم أعيدوا إرسال الأحداث الفائتة من سجل التوصيل.</p>"
        "{% else %}<p>{{ (message or alert)|nl2br }}</p>{% endif %}",
    ),
    ("store_alert", "en"): (
        _CHANNEL_EN + "Alert: "
        "{% if alert == 'quota_reached' %}your hourly {{ channels.get(channel, channel) }} quota is reached"
        "{% elif alert == 'webhook_failing' %}events cannot be delivered to {{ url }}"
        "{% else %}{{ message or alert }}{% endif %}",
        _CHANNEL_EN + """Hello {{ store.name }} team,

{% if alert == 'quota_reached' %}Your store reached its {{ channels.get(channel, channel) }} quota ({{ quota }} messages an hour){% if window_start %} in the hour starting {{ window_start }}{% endif %}. Further messages are held and go out automatically as soon as the quota has room. You can change the quota in the notification settings.
{% elif alert == 'webhook_failing' %}We could not deliver events to the webhook {{ url }} despite retrying for over 24 hours, so the endpoint is now marked as failing.
{% if last_error %}
Last error: {{ last_error }}
{% endif %}
Check that the receiving server works, then redeliver the missed events from the delivery log.
{% else %}{{ message or alert }}
{% endif %}""",
        _CHANNEL_EN + "<p>Hello {{ store.name }} team,</p>"
        "{% if alert == 'quota_reached' %}<p>Your store reached its {{ channels.get(channel, channel) }} quota "
        "(<strong>{{ quota }}</strong> messages an hour){% if window_start %} in the hour starting {{ window_start }}"
        "{% endif %}. Further messages are held and go out automatically as soon as the quota has room. You can "
        "change the quota in the notification settings.</p>"
        "{% elif alert == 'webhook_failing' %}<p>We could not deliver events to the webhook {{ url }} despite "
        "retrying for over 24 hours, so the endpoint is now marked as failing.</p>"
        "{% if last_error %}" + _quote("last_error") + "{% endif %}"
        "<p>Check that the receiving server works, then redeliver the missed events from the delivery log.</p>"
        "{% else %}<p>{{ (message or alert)|nl2br }}</p>{% endif %}",
    ),
}
