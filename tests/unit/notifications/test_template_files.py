"""Our templates are files (services/notifications/templates/): one folder
per kind with three files per locale, a layout, macros and a catalogue of
labels per locale. An installed package carries them, and an edited file
is in the very next email, without a restart."""
from __future__ import annotations

import fnmatch
import os
import shutil
import tomllib
from pathlib import Path

import pytest
from jinja2 import FileSystemLoader, TemplateSyntaxError, UndefinedError

from services.notifications import rendering
from services.notifications.config import NotificationsConfig
from services.notifications.dependencies import Outbound
from services.notifications.rendering import KINDS, LOCALES, PARTS, SUFFIXES, render

ROOT = Path(__file__).resolve().parents[3]
FOLDER = ROOT / "services" / "notifications" / "templates"
CONTEXT = {"customer_name": "Noura", "store": {"name": "Noor Store"},
           "ticket": {"id": "t-1", "number": 1042, "subject": "Where is my parcel?"}, "body": "Hello?"}


def test_every_kind_has_a_subject_a_text_and_an_html_file_in_every_locale_and_nothing_else():
    expected = {f"{kind}/{locale}.{SUFFIXES[part]}" for kind in KINDS for locale in LOCALES for part in PARTS}
    shared = {"layout.html.j2", "macros.html.j2", *(f"labels/{locale}.j2" for locale in LOCALES)}
    found = {str(path.relative_to(FOLDER)) for path in FOLDER.rglob("*") if path.is_file()}
    assert found == expected | shared


def test_the_package_data_carries_every_template_file():
    """pip install . (not only -e) finds them: setuptools copies what these patterns match."""
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"][
        "services.notifications"]
    package = FOLDER.parent
    for path in FOLDER.rglob("*"):
        if path.is_file():
            relative = str(path.relative_to(package))
            assert any(fnmatch.fnmatch(relative, p) and relative.count("/") == p.count("/") for p in patterns), \
                relative


def test_order_status_names_come_from_the_locales_labels():
    """One catalogue per locale: the text and the HTML of an order say the same word."""
    order = {"id": "o-1", "status": "delivering", "items": []}
    english = render("order_details", "en", {**CONTEXT, "order": order})
    arabic = render("order_details", "ar", {**CONTEXT, "order": order})
    assert "Status: Out for delivery" in english.text and "<td>Out for delivery</td>" in english.html
    assert "الحالة: جارٍ التوصيل" in arabic.text and "<td>جارٍ التوصيل</td>" in arabic.html


# --- a translator edits a file ---------------------------------------------------------------


@pytest.fixture
def copied_templates(tmp_path, monkeypatch):
    """The files copied to a folder of the test's own, which rendering then reads."""
    folder = tmp_path / "templates"
    shutil.copytree(FOLDER, folder)
    monkeypatch.setattr(rendering, "_OURS", rendering.our_environments(FileSystemLoader(folder)))
    return folder


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")
    later = path.stat().st_mtime + 5  # as a save a moment later would
    os.utime(path, (later, later))


def test_an_edited_template_is_in_the_next_email(copied_templates):
    before = render("ticket_reply", "en", CONTEXT)
    assert before.subject == "New reply on your ticket #1042: Where is my parcel?"

    edit(copied_templates / "ticket_reply" / "en.subject.j2", "New reply on your ticket", "Your ticket has a reply")
    after = render("ticket_reply", "en", CONTEXT)
    assert after.subject == "Your ticket has a reply #1042: Where is my parcel?"
    assert (after.text, after.html) == (before.text, before.html)


def test_an_edited_label_or_layout_is_in_the_next_email_of_every_kind(copied_templates):
    edit(copied_templates / "labels" / "en.j2", "'Hello ' ~ name ~ ','", "'Hi ' ~ name ~ ','")
    edit(copied_templates / "layout.html.j2", '<meta charset="utf-8">', '<meta charset="utf-8"><!-- edited -->')
    for kind in ("ticket_opened", "ticket_reply", "direct_message"):
        rendered = render(kind, "en", CONTEXT)
        assert "<p>Hi Noura,</p>" in rendered.html and "<!-- edited -->" in rendered.html, kind


def test_a_file_saved_with_a_mistake_fails_its_messages_until_it_is_fixed(copied_templates):
    """The dispatcher retries such a message ("internal error"): it waits, it is not sent broken."""
    subject = copied_templates / "ticket_reply" / "en.subject.j2"
    edit(subject, "{{ ticket.subject }}", "{{ ticket.subject }")
    with pytest.raises(TemplateSyntaxError):
        render("ticket_reply", "en", CONTEXT)
    edit(subject, "{{ ticket.subject }", "{{ ticket.subject }}")
    assert render("ticket_reply", "en", CONTEXT).subject == "New reply on your ticket #1042: Where is my parcel?"


def test_oneline_leaves_out_the_files_line_breaks_and_keeps_the_values():
    html = render("ticket_reply", "en", {**CONTEXT, "body": "line one\nline two"}).html
    assert "</p><p>" in html and "</p>\n<p>" not in html
    assert "line one<br>\nline two" in html


def test_a_default_that_does_not_render_stops_the_service_at_start(copied_templates):
    """Checked when the service starts (``Outbound.setup``), not when the
    module is imported: a label gone from its catalogue stops the start,
    before any message needs it."""
    def start() -> None:
        outbound = Outbound()
        outbound.config_factory = NotificationsConfig  # the defaults, whatever this process's environment says
        outbound.setup()

    start()
    edit(copied_templates / "labels" / "en.j2", "{% macro footer(store) %}", "{% macro signature(store) %}")
    with pytest.raises(UndefinedError, match="footer"):
        start()
