"""Cards and READMEs read as documents: Markdown parsed by markdown-it-py (fenced code is code, not structure),
the HTML inside them by BeautifulSoup (text of `<p>`, `<div>`, tables; links from `<a href>`), every block with
the lines it spans so evidence can quote them."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bs4 import BeautifulSoup
from markdown_it import MarkdownIt

PARSER = MarkdownIt("commonmark").enable("table")
URL = re.compile(r"https?://[^\s<>\"')\]]+")


@dataclass(frozen=True)
class Block:
    """One block of a document: its kind, its text (code verbatim, prose without markup), the 1-based lines."""

    kind: str  # heading | prose | code | table | html
    text: str
    line_start: int
    line_end: int
    level: int = 0  # heading level (1-6)
    body_line: int = 0  # the line of the first line of `text` (after a code fence's opening line)


@dataclass(frozen=True)
class Section:
    """A heading and the blocks under it, up to the next heading of the same or a higher level."""

    heading: Block | None
    blocks: tuple[Block, ...]

    @property
    def title(self) -> str:
        return self.heading.text if self.heading else ""



@dataclass(frozen=True)
class Document:
    blocks: tuple[Block, ...]
    # (line of the block holding it, url, link text, the line it stands on)
    links: tuple[tuple[int, str, str, int], ...]

    def headings(self) -> list[Block]:
        return [b for b in self.blocks if b.kind == "heading"]

    def sections(self) -> list[Section]:
        """Every heading's section (nested: a section holds its sub-sections' blocks too), and the preamble."""
        sections = []
        first_heading = next((i for i, b in enumerate(self.blocks) if b.kind == "heading"), len(self.blocks))
        if first_heading:
            sections.append(Section(None, self.blocks[:first_heading]))
        for index, block in enumerate(self.blocks):
            if block.kind != "heading":
                continue
            end = next((j for j in range(index + 1, len(self.blocks)) if self.blocks[j].kind == "heading"
                        and self.blocks[j].level <= block.level), len(self.blocks))
            sections.append(Section(block, self.blocks[index + 1:end]))
        return sections

    def code(self) -> list[Block]:
        return [b for b in self.blocks if b.kind == "code"]


def _html_text(html: str) -> tuple[str, list[tuple[str, str]]]:
    soup = BeautifulSoup(html, "html.parser")
    links = [(a.get("href") or "", a.get_text(" ", strip=True)) for a in soup.find_all("a") if a.get("href")]
    return soup.get_text(" ", strip=True), links


def _inline_html(tag: str) -> tuple[str, list[tuple[str, str]]]:
    """Text and links of an inline HTML token. CommonMark's inline HTML is a single tag, comment or declaration
    with no text of its own: only an `<a href>` tag gives a link and only CDATA gives text, so only those are
    parsed (a BeautifulSoup for every `<b>` or `<br>` of a card cost more than the rest of its reading)."""
    head = tag[:3].lower()
    if head.startswith("<![") or (head.startswith("<a") and (len(head) < 3 or not head[2].isalnum())):
        return _html_text(tag)
    return "", []


def _html_lines(html: str) -> tuple[list[tuple[int, str]], list[tuple[int, str, str]]]:
    """The text of an HTML block by the source line of the tag holding it (0-based from the block's first line),
    and its links `(line, href, text)`: evidence can then cite the line a quote stands on."""
    soup = BeautifulSoup(html, "html.parser")
    by_line: dict[int, list[str]] = {}
    for string in soup.find_all(string=True):
        text = " ".join(string.split())
        if text and string.parent is not None:
            by_line.setdefault((string.parent.sourceline or 1) - 1, []).append(text)
    links = [((a.sourceline or 1) - 1, a.get("href") or "", a.get_text(" ", strip=True))
             for a in soup.find_all("a") if a.get("href")]
    return [(line, " ".join(parts)) for line, parts in sorted(by_line.items())], links


def _inline_links(token) -> list[tuple[str, str, int]]:
    """(url, link text, line offset in the block) of every link of an inline token: Markdown links, `<a href>`
    tags, then the bare URLs not already linked. Linear in the token: a card may hold 100,000 links."""
    found, href, text, offset, hrefs = [], None, [], 0, set()
    for child in token.children or []:
        if child.type in ("softbreak", "hardbreak"):
            offset += 1
        elif child.type == "link_open":
            href, text, at = child.attrs.get("href", ""), [], offset
        elif child.type == "link_close" and href is not None:
            found.append((str(href), "".join(text), at))
            href = None
        elif child.type in ("text", "code_inline") and href is not None:
            text.append(child.content)
        elif child.type == "html_inline":
            found += [(url, label, offset) for url, label in _inline_html(child.content)[1]]
            offset += child.content.count("\n")
    hrefs.update(url for url, _, _ in found)
    line, counted = 0, 0
    for match in URL.finditer(token.content):  # bare URLs, which CommonMark does not link
        if match.group(0) not in hrefs:
            hrefs.add(match.group(0))
            line += token.content.count("\n", counted, match.start())  # counted from the last URL on: linear
            counted = match.start()
            found.append((match.group(0), "", line))
    return found


def _plain(token, keep_lines: bool = False) -> str:
    """An inline token's text without markup; inline HTML reduced to its text. With `keep_lines`, leading line
    breaks stay (a paragraph opening with an image keeps its lines aligned with the source)."""
    parts = []
    for child in token.children or []:
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append("\n")
        elif child.type == "html_inline":
            parts.append(_inline_html(child.content)[0])
    text = "".join(parts)
    return text.strip(" \t").rstrip() if keep_lines else text.strip()


def parse(text: str, first_line: int = 1) -> Document:
    """The document `text` holds, its line numbers counted from `first_line` (the line after a front matter).
    Not cached here: `extractors.text.document`, its one caller, keeps each text's document."""
    tokens = PARSER.parse(text)
    blocks, links = [], []
    offset = first_line
    index = 0
    while index < len(tokens):
        token = tokens[index]
        start, end = (token.map[0] + offset, token.map[1] + offset - 1) if token.map else (offset, offset)
        if token.type == "heading_open":
            inline = tokens[index + 1]
            blocks.append(Block("heading", _plain(inline), start, end, int(token.tag[1])))
            links += [(start, url, label, start) for url, label, _ in _inline_links(inline)]
            index += 3
            continue
        if token.type in ("fence", "code_block"):
            blocks.append(Block("code", token.content, start, end, body_line=start + (token.type == "fence")))
        elif token.type == "html_block":
            lines, html_links = _html_lines(token.content)
            blocks += [Block("html", text, start + line, start + line) for line, text in lines]
            links += [(start + line, url, label, start + line) for line, url, label in html_links]
        elif token.type == "table_open":
            close = next(j for j in range(index, len(tokens)) if tokens[j].type == "table_close")
            row_line, cells = start, []
            for cell in tokens[index:close + 1]:
                if cell.type == "tr_open":
                    row_line = cell.map[0] + offset if cell.map else row_line + 1
                elif cell.type == "inline":
                    cells.append(cell)
                    links += [(row_line, url, label, row_line) for url, label, _ in _inline_links(cell)]
                elif cell.type == "tr_close":  # one block per row, so evidence cites the row's own line
                    blocks.append(Block("table", " | ".join(_plain(c) for c in cells), row_line, row_line))
                    cells = []
            index = close + 1
            continue
        elif token.type == "inline" and tokens[index - 1].type == "paragraph_open":
            para = tokens[index - 1]
            p_start, p_end = para.map[0] + offset, para.map[1] + offset - 1
            blocks.append(Block("prose", _plain(token, keep_lines=True), p_start, p_end))
            links += [(p_start, url, label, p_start + at) for url, label, at in _inline_links(token)]
        index += 1
    return Document(tuple(blocks), tuple(links))
