"""Step 2 of the label reader: a report's lines → units (sentences with their section and label).

Lines that are only headings (``## Lungs``, ``**3. Conclude if pneumonia opacities are present:**``)
are not findings: they set the section. An inline label (``Impression: …``, ``Lungs: …``) sets the
section and the text after it is read. Sections are recognised by any registered language's heading
words: a conclusion (Impression, Conclusion, …) puts its sentences in the *impression* tier, a
Recommendation / Indication / History section is skipped, and under a Differential heading an
affirmed finding counts as hedged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from cxr_lib.analysis.labels_final import final_labels
from cxr_lib.analysis.labels_lexicon import Lexicon
from cxr_lib.analysis.labels_markup import (
    BOLD_LINE,
    HEADING_LINE,
    INVISIBLE,
    LABEL,
    LETTER,
    NUMBERED_LINE,
    split_sentences,
)
from cxr_lib.analysis.labels_scope import classify


@dataclass
class Section:
    """Where a unit is: its kind (body | conclusion | ignore | differential) and subject (lungs | heart | "")."""

    kind: str = "body"
    subject: str = ""


@dataclass
class Unit:
    """A sentence with its section; a heading line when ``text`` is empty."""

    text: str
    section: Section
    tier: str  # "impression" | "finding"
    label: str = ""  # the inline label or heading this text answers, if any
    line: str = ""  # the label with this sentence (evidence for "Pneumonia: absent" pairs)
    evidence: str = ""  # what to quote when this unit decides


def section_of(heading: str, current: Section, numbered_or_heading: bool, lex: Lexicon) -> Section:
    """The section a heading or label opens (``current`` when it names none)."""
    if lex.sec_differential.search(heading):
        return Section("differential", "")
    if lex.sec_conclusion.search(heading):
        return Section("conclusion", "")
    if lex.sec_ignore.search(heading) and not lex.strong.search(heading):
        return Section("ignore", "")
    if lex.sec_heart.search(heading) and not lex.sec_lungs.search(heading):
        return Section("body", "heart")
    if lex.sec_lungs.search(heading):
        return Section("body", "lungs")
    if numbered_or_heading or lex.sec_body.search(heading):
        return Section("body", "")
    return current


def is_section_name(label: str, lex: Lexicon) -> bool:
    """Whether a short label names a report section (Impression, Findings, Lungs, …)."""
    if len(label.split()) > 4:
        return False
    return any(p.search(label) for p in (lex.sec_conclusion, lex.sec_body, lex.sec_ignore, lex.sec_differential,
                                          lex.sec_heart, lex.sec_lungs))


def looks_like_label(label: str, lex: Lexicon) -> bool:
    """A label ("Lungs", "Pneumonia opacities", "Conclude if … present"), not a clause ("There is X")."""
    label = label.strip()
    if len(label.split()) > 10:
        return False
    if is_section_name(label, lex) or lex.prompt_echo.match(label) or lex.interrogative.match(label):
        return True
    return len(label.split()) <= 6 and not lex.clause_verb.search(label)


def _says_normal_or_hedged(line: str, lex: Lexicon) -> bool:
    """Whether a heading-like line is really a statement ("**No acute findings**", "## Possible pneumonia")."""
    verdict = classify(line, "", False, lex)
    return verdict is not None and verdict[1] in ("negated", "normal", "hedged")


def units(raw_lines: list[str], lines: list[str], lex: Lexicon) -> Iterator[Unit]:
    """The report's units in order (``lines`` are ``raw_lines`` without markup)."""
    section = Section()
    for raw, line in zip(raw_lines, lines):
        if not LETTER.search(line) or final_labels(line, lex) is None:
            continue  # empty, a rule, or the prompt's own instruction about the answer line
        raw_clean = INVISIBLE.sub("", raw)
        is_md_heading = bool(HEADING_LINE.match(raw_clean))
        bold = BOLD_LINE.match(raw_clean)
        is_numbered = bool(NUMBERED_LINE.match(raw_clean))
        short_bold = bold is not None and len(line.split()) <= 8 and not line.rstrip().endswith(".")
        heading_only = line.rstrip().endswith((":", "：")) or (
            (is_md_heading or short_bold) and not _says_normal_or_hedged(line, lex)
        )
        label_match = LABEL.match(line)
        if heading_only and not (label_match and label_match.group("value").strip()):
            section = section_of(line, section, True, lex)
            yield Unit("", section, "", label=line.rstrip(":： "), line=line)  # marks a heading
            continue
        label, value, cursor = "", line, 0
        if label_match and label_match.group("value").strip() and looks_like_label(label_match.group("label"), lex):
            label, value = label_match.group("label").strip(), label_match.group("value").strip()
            section = section_of(label, section, is_numbered or is_md_heading, lex)
            cursor = label_match.start("value")
        for sentence in split_sentences(value, lex):
            cursor = line.find(sentence, cursor) + len(sentence)  # where this sentence ends in the line
            quoted = sentence
            inline = LABEL.match(sentence) if not label else None
            if inline and inline.group("value").strip() and is_section_name(inline.group("label"), lex):
                # "… No effusion. IMPRESSION: Normal." — a section label in mid-line
                label, sentence = inline.group("label").strip(), inline.group("value").strip()
                section = section_of(label, section, True, lex)
            elif label:
                quoted = line[:cursor]
            concluding = section.kind == "conclusion" or lex.inline_conclusion.match(sentence)
            tier = "impression" if concluding else "finding"
            evidence = quoted if label and len(sentence.split()) <= 4 else sentence  # quote "Lungs: clear." whole
            yield Unit(sentence, section, tier, label=label, line=quoted, evidence=evidence)
            label = ""  # only the first sentence answers the label

