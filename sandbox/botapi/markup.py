"""What Telegram shows of a text after entity parsing, and the parse errors it answers with.

Approximations good enough for length limits and for catching markup the real server refuses;
entities themselves are not computed.
"""

from __future__ import annotations

import html
import re

_HTML_TAGS = frozenset(
    "b strong i em u ins s strike del span tg-spoiler a tg-emoji tg-time code pre blockquote"
    .split()
)
_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)(\s[^<>]*)?>")
_HTML_ENTITY = re.compile(r"&(?:lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);")
# MarkdownV2 characters that must be escaped outside of entities.
_MD2_RESERVED = frozenset("_*[]()~`>#+-=|{}.!")
_MD2_MARKERS = ("||", "__", "*", "_", "~")
_MD_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")


class EntityError(ValueError):
    """The text would be refused with "can't parse entities: ..."."""


def visible_text(text: str, parse_mode: str | None) -> str:
    mode = (parse_mode or "").lower()
    if mode == "html":
        return _html(text)
    if mode == "markdownv2":
        return _markdown_v2(text)
    if mode == "markdown":
        return _markdown(text)
    return text


def _offset(text: str, index: int) -> int:
    # Telegram reports positions as UTF-8 byte offsets.
    return len(text[:index].encode())


def _html(text: str) -> str:
    out: list[str] = []
    open_tags: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == "<":
            tag = _TAG.match(text, i)
            if tag is None:
                raise EntityError(
                    f"Can't find end of the tag starting at byte offset {_offset(text, i)}"
                )
            closing, name = tag.group(1), tag.group(2).lower()
            if name not in _HTML_TAGS:
                kind = "end" if closing else "start"
                raise EntityError(
                    f'Unsupported {kind} tag "{name}" at byte offset {_offset(text, i)}'
                )
            if not closing:
                open_tags.append(name)
            elif not open_tags or open_tags[-1] != name:
                expected = f'"</{open_tags[-1]}>"' if open_tags else "no end tag"
                raise EntityError(
                    f"Unmatched end tag at byte offset {_offset(text, i)}, "
                    f'expected {expected}, found "</{name}>"'
                )
            else:
                open_tags.pop()
            i = tag.end()
        elif char == "&" and (entity := _HTML_ENTITY.match(text, i)):
            out.append(html.unescape(entity.group()))
            i = entity.end()
        else:
            out.append(char)
            i += 1
    if open_tags:
        raise EntityError(f'Can\'t find end tag corresponding to start tag "{open_tags[-1]}"')
    return "".join(out)


def _markdown_v2(text: str) -> str:
    out: list[str] = []
    open_markers: list[str] = []
    i = 0
    at_line_start = True
    while i < len(text):
        char = text[i]
        if char == "\\":
            if i + 1 == len(text):
                raise EntityError("Can't parse entities: unexpected end of text after '\\'")
            out.append(text[i + 1])
            i += 2
        elif char == "`":
            fence = "```" if text.startswith("```", i) else "`"
            end = text.find(fence, i + len(fence))
            if end < 0:
                raise EntityError(
                    f"Can't find end of Pre/Code entity at byte offset {_offset(text, i)}"
                )
            out.append(text[i + len(fence) : end].replace("\\`", "`").replace("\\\\", "\\"))
            i = end + len(fence)
        elif char == ">" and at_line_start:
            i += 1
        elif marker := next((m for m in _MD2_MARKERS if text.startswith(m, i)), None):
            if open_markers and open_markers[-1] == marker:
                open_markers.pop()
            else:
                open_markers.append(marker)
            i += len(marker)
        elif char == "[":
            open_markers.append("[")
            i += 1
        elif char == "]" and open_markers and open_markers[-1] == "[":
            open_markers.pop()
            i += 1
            if text.startswith("(", i):
                close = text.find(")", i)
                if close < 0:
                    raise EntityError(
                        f"Can't find end of a URL at byte offset {_offset(text, i)}"
                    )
                i = close + 1
        elif char in _MD2_RESERVED:
            raise EntityError(
                f"Character '{char}' is reserved and must be escaped with the preceding '\\'"
            )
        else:
            out.append(char)
            i += 1
        at_line_start = char == "\n"
    if open_markers:
        raise EntityError(f"Can't find end of the entity started with '{open_markers[-1]}'")
    return "".join(out)


def _markdown(text: str) -> str:
    text = _MD_LINK.sub(r"\1", text)
    for marker in "*_`":
        if text.count(marker) % 2:
            raise EntityError(
                f"Can't find end of the entity starting at byte offset "
                f"{_offset(text, text.rfind(marker))}"
            )
        text = text.replace(marker, "")
    return text
