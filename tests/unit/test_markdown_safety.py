"""The two lines of defence for card bodies: markdown-it escapes raw HTML, nh3 sanitises."""

from __future__ import annotations

import pytest

from app.content.document import unsafe_links
from app.content.markdown import link_targets, neutralise_markdown, render_html, sanitise_html


@pytest.mark.parametrize(
    ("html", "kept", "gone"),
    [
        ("<p>a<script>alert(1)</script></p>", "<p>a</p>", "script"),
        (
            '<img src="https://x.no/a.png" onerror="alert(1)">',
            'src="https://x.no/a.png"',
            "onerror",
        ),
        ('<a href="javascript:alert(1)">x</a>', ">x</a>", "javascript"),
        ('<img src="data:image/png;base64,AAAA">', "<img>", "data:"),
        ('<p onclick="x()" style="color:red">t</p>', "<p>t</p>", "onclick"),
        ('<iframe src="https://evil.example"></iframe>ok', "ok", "iframe"),
    ],
)
def test_sanitiser_removes_what_could_run(html, kept, gone):
    clean = sanitise_html(html)
    assert kept in clean
    assert gone not in clean


def test_markdown_never_passes_raw_html_through():
    assert "<script>" not in render_html("<script>alert(1)</script>")
    assert "&lt;script&gt;" in render_html("<script>alert(1)</script>")


def test_markdown_refuses_script_links_even_when_encoded():
    assert 'href="javascript' not in render_html("[x](JaVaScRiPt&colon;alert(1))")
    assert link_targets("[x](JaVaScRiPt&colon;alert(1))") == ["JaVaScRiPt:alert(1)"]


@pytest.mark.parametrize(
    "markdown",
    [
        "[x](javascript:alert(1))",
        "[x]( javascript:alert(1) )",
        "<javascript:alert(1)>",
        "[ref]\n\n[ref]: vbscript:msgbox",
        "![p](data:image/svg+xml;base64,PHN2Zz4=)",
        "[f](file:///etc/passwd)",
    ],
)
def test_unsafe_link_schemes_are_reported(markdown):
    assert unsafe_links(markdown)


@pytest.mark.parametrize(
    "markdown", ["[a](https://x.no)", "[b](mailto:hms@butikk.no)", "[c](#del-2)", "< 4 °C"]
)
def test_safe_links_pass(markdown):
    assert unsafe_links(markdown) == []


def test_neutralised_markdown_has_no_raw_tags():
    assert neutralise_markdown("a <b onmouseover=x>") == "a &lt;b onmouseover=x>"
