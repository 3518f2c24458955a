"""Report text without its Markdown, in lines and sentences, and the evidence found back in it.

The label reader (:mod:`cxr_lib.analysis.labels`) quotes its evidence from :func:`plain_text`;
:func:`highlight` finds that sentence in the original report again for the app and the notebooks.
Markup is the same in every language, so nothing here depends on one.
"""

from __future__ import annotations

import re

from cxr_lib.analysis.labels_lexicon import Lexicon

INVISIBLE = re.compile(r"[\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff\u00ad]")
_LIST_MARKER = re.compile(
    r"^(?:>\s*)*(?:#{1,6}\s+|#{1,6}$)?(?:(?:[-*+•·▪◦‣–—]|\d{1,3}[.)](?!\d)|\(\d{1,3}\)|[a-zA-Z][.)](?=\s)|"
    r"[ivxIVX]{1,4}[.)](?=\s))\s*)*"
)
_EMPHASIS = re.compile(r"\*\*|__|~~|`+|(?<!\w)[*_]+(?=\S)|(?<=\S)[*_]+(?!\w)")
_LINK = re.compile(r"!?\[([^\]\n]{0,200})\]\([^)\n]{0,500}\)")
_TABLE_ROW = re.compile(r"^\s*\|(?P<cells>.*)\|\s*$")
HEADING_LINE = re.compile(r"^\s{0,3}(?:>\s*)*#{1,6}(?:\s|$)")
BOLD_LINE = re.compile(r"^\s*(?:[-*+]\s+|\d{1,3}[.)]\s+)?(\*\*|__)(?P<inner>.+?)\1\s*[:：]?\s*$")
NUMBERED_LINE = re.compile(r"^\s*(?:\*\*|__)?\s*\d{1,3}[.)]\s")
#: "Label: value" (also "Label — value", "Label | value").
LABEL = re.compile(r"^(?P<label>[^:：.!?;]{1,80}?)\s*(?:[:：]|\s[–—|]\s)\s*(?P<value>.*)$")
LETTER = re.compile(r"[^\W\d_]")


def clean_line(raw: str) -> str:
    """One line without markup: links, table pipes, emphasis, list markers and bidirectional marks."""
    line = INVISIBLE.sub("", raw)
    line = _LINK.sub(r"\1", line)
    table = _TABLE_ROW.match(line)
    if table:
        cells = [c.strip() for c in table.group("cells").split("|")]
        line = " | ".join(c for c in cells if c)
    line = _EMPHASIS.sub("", line)
    line = _LIST_MARKER.sub("", line.strip(), count=1)
    return line.strip()


def plain_lines(text: str) -> list[str]:
    """The report's lines without Markdown markup (headings, emphasis, bullets, list numbers)."""
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    return [clean_line(raw) for raw in text.splitlines()]


def plain_text(text: str) -> str:
    """The report without Markdown markup; every reading's evidence is a substring of it."""
    return "\n".join(plain_lines(text))


def split_sentences(line: str, lex: Lexicon) -> list[str]:
    """A line's sentences (a full stop after an abbreviation such as "e.g." does not end one)."""
    out, start = [], 0
    for match in lex.sentence_end.finditer(line):
        piece = line[start:match.end()]
        if match.group().startswith(".") and lex.abbreviation.search(piece.rstrip()):
            continue
        if piece.strip():
            out.append(piece.strip())
        start = match.end()
    if line[start:].strip():
        out.append(line[start:].strip())
    return out


def evidence_span(text: str, evidence: str | None) -> tuple[int, int] | None:
    """Where ``evidence`` (a sentence of :func:`plain_text`) is in the report ``text``: verbatim, else
    word for word ignoring markup between the words; ``None`` when it is not there (or empty)."""
    if not evidence:
        return None
    start = text.find(evidence)
    if start >= 0:
        return start, start + len(evidence)
    words = re.findall(r"\w+", evidence)
    if not words:
        return None
    match = re.search(r"[\W_]*".join(map(re.escape, words)), text)
    return match.span() if match else None


def highlight(text: str, evidence: str | None, label: str | None) -> list[tuple[str, str | None]]:
    """The report as consecutive ``(segment, tag)`` pieces that join back into ``text``: the evidence
    sentence tagged with ``label``, the rest with ``None`` (no piece when ``text`` is empty)."""
    span = evidence_span(text, evidence)
    if span is None:
        return [(text, None)] if text else []
    start, end = span
    parts = [(text[:start], None), (text[start:end], label), (text[end:], None)]
    return [(segment, tag) for segment, tag in parts if segment]
