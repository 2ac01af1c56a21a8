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
    return sanitise_html(_renderer.render(markdown))


def sanitise_html(html: str) -> str:
    """Only the allowed tags and attributes, links to https/http/mailto only."""
    return nh3.clean(
        html,
        tags=_ALLOWED_TAGS,
        attributes=_ALLOWED_ATTRIBUTES,
        url_schemes={"https", "http", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )


def neutralise_markdown(markdown: str) -> str:
    """The Markdown source with raw HTML made inert, for clients that render Markdown
    themselves: `<` becomes `&lt;`, which every Markdown renderer shows as a literal `<`."""
    return markdown.replace("<", "&lt;")


# A parser that accepts every link, so validation sees what an editor wrote (the renderer
# above silently drops unsafe links; editors should be told instead).
_link_finder = MarkdownIt("commonmark", {"html": False, "linkify": False})
_link_finder.validateLink = lambda url: True  # type: ignore[method-assign]


def link_targets(markdown: str) -> list[str]:
    """Every link and image address in a Markdown text, entities decoded."""
    targets: list[str] = []
    stack = list(_link_finder.parse(markdown))
    while stack:
        token = stack.pop()
        if token.children:
            stack.extend(token.children)
        if token.type == "link_open":
            targets.append(str(token.attrGet("href") or ""))
        elif token.type == "image":
            targets.append(str(token.attrGet("src") or ""))
    return targets
