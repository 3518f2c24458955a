"""Step 1 of the label reader: the fixed final-answer line (``Final answer: PNEUMONIA``).

Found anywhere in a line, in any registered language's words (markers such as "Réponse finale",
tokens such as "neumonía"), tolerant of markup, case and punctuation. The last such line wins. A line
naming two different tokens ("PNEUMONIA or NORMAL") echoes the prompt and is skipped; a token
followed by a negation ("Final answer: pneumonia is not present") is left to the sentence reader.
"""

from __future__ import annotations

from dataclasses import dataclass

from cxr_lib.analysis.labels_lexicon import Lexicon


@dataclass(frozen=True)
class FinalAnswer:
    """The label a final-answer line gave and the line (or the token line after a marker line)."""

    label: str
    line: str


def final_labels(line: str, lex: Lexicon) -> list[str] | None:
    """Labels of the final-answer tokens in a line, in order; None when the line echoes the prompt."""
    if lex.fa_instruction.search(line):
        return None  # "End your report with 'Final answer: PNEUMONIA' or …" is the prompt
    labels = []
    for match in lex.fa_line.finditer(line):
        rest = line[match.end():]
        if lex.fa_echo_after.match(rest):
            return None  # "Final answer: PNEUMONIA or NORMAL" lists the options
        label = token_label(match.group("tok"), match.group("neg"), lex)
        if label == "pneumonia" and lex.fa_negated_after.match(rest):
            continue  # "Final answer: pneumonia is not present" is read as a sentence
        labels.append(label)
    return None if len(set(labels)) > 1 else labels  # two different answers: the options again


def token_label(token: str, negated: str | None, lex: Lexicon) -> str:
    """The label of one final-answer token, negated ("no pneumonia") or not."""
    if lex.fa_uncertain.fullmatch(token):
        return "uncertain"
    is_pneumonia = lex.fa_pneumonia.fullmatch(token) is not None
    if negated:
        return "normal" if is_pneumonia else "uncertain"
    return "pneumonia" if is_pneumonia else "normal"


def final_answer(lines: list[str], lex: Lexicon) -> FinalAnswer | None:
    """The last final-answer line of the report's plain lines, or None."""
    found: FinalAnswer | None = None
    for i, line in enumerate(lines):
        labels = None if lex.prompt_echo.match(line) else final_labels(line, lex)
        if labels:
            found = FinalAnswer(labels[-1], line)
            continue
        if lex.fa_marker_only.match(line):
            nxt = next((ln for ln in lines[i + 1:] if ln.strip()), "")
            token = lex.fa_token_only.match(nxt.strip())
            if token:
                found = FinalAnswer(token_label(token.group("tok"), token.group("neg"), lex), nxt.strip())
    return found
