"""Card bodies are Markdown; learners get it with raw HTML neutralised and as sanitised HTML."""

from __future__ import annotations

import nh3
from markdown_it import MarkdownIt

# html=False: raw HTML in the source is escaped, never passed through; markdown-it also
# refuses javascript:/vbscript:/data: links. nh3 is the second line of defence.
_renderer = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")

_ALLOWED_TAGS = {
    "p", "br", "strong", "em", "b", "i", "ul", "ol", "li", "a", "h2", "h3", "h4",
    "blockquote", "code", "pre", "hr", "table", "thead", "tbody", "tr", "th", "td", "img",
}  # fmt: skip
_ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "title"}}


def render_html(markdown: str) -> str:
    """Markdown to HTML that is safe to put in a web view."""
    return nh3.clean(
        _renderer.render(markdown),
        tags=_ALLOWED_TAGS,
        attributes=_ALLOWED_ATTRIBUTES,
        url_schemes={"https", "http", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )


def neutralise_markdown(markdown: str) -> str:
    """The Markdown source with raw HTML made inert, for clients that render Markdown
    themselves: `<` becomes `&lt;`, which every Markdown renderer shows as a literal `<`."""
    return markdown.replace("<", "&lt;")
