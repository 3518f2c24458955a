"""Report text → label (normal | pneumonia | uncertain) and the sentence that decided it.

The reference analysis read "no obvious signs of pneumonia" as *pneumonia*: it matched a list
of positive phrases that overrode the negative ones. This module reads a report the way a
radiologist would, in four steps, and always says which sentence or line decided. The steps are
the same in every language; each language's words and constructions are data, one module per
language in :mod:`cxr_lib.languages` (negation cues before and after a finding, hedges, the words
that end a cue's scope, normal statements, section headings, final-answer tokens, short answers).

1. **Fixed final-answer line** (:mod:`cxr_lib.analysis.labels_final`). ``Final answer: PNEUMONIA`` /
   ``NORMAL`` (also ``UNCERTAIN``, ``no pneumonia``), with any language's markers and tokens, found
   anywhere in a line. The last such line wins.
2. **Markdown → units** (:mod:`cxr_lib.analysis.labels_markup`, :mod:`cxr_lib.analysis.labels_units`).
   Each line is stripped of markup; headings set the section. A short answer to a label, heading or
   question that names a finding is read as that answer (rules ``answer-*``): "Pneumonia: absent",
   "Pneumonia: not seen", "Are there pneumonia opacities? No.", a table row "Consolidation | No" —
   an answer is a yes/no word of any language, or a negation or hedge cue that would act on the
   finding from after it ("Pneumonia: nicht nachweisbar" reads as "Pneumonie nicht nachweisbar").
   Prompt echoes, questions, recommendations, general caveats and disclaimers are skipped, and so are
   Recommendation / Indication / History / Note sections; under a Differential heading an affirmed
   finding counts as hedged.
3. **Per sentence, NegEx-style** (:mod:`cxr_lib.analysis.labels_scope`). Each mention of a finding
   gets a status from the cues in its clause: *negated*, *hedged*, *ignored* (a request such as "to
   rule out") or *affirmed*. **One certainty scale** (the five-step lexicon of Panicek & Hricak,
   *Radiology* 2016), the same before or after the finding and in every language:

   | certainty | English phrases | reading |
   |---|---|---|
   | > 90 %, ≈ 75 % | "consistent with", "compatible with"; "likely", "probable", "suspicious for", "suggestive of", "concerning for", "suspected" | a call (*affirmed*) |
   | ≈ 50 % | "possible", "may / could represent", "cannot be (completely) excluded", "difficult to exclude", "equivocal", "versus" | *hedged* → uncertain |
   | ≈ 25 %, < 10 % | "less likely", "unlikely", "doubtful"; "no", "absent", "not seen" | *negated* |

   A finding followed by a clause that interprets it with a hedge ("airspace disease, **which may
   represent** atelectasis or pneumonia", "consolidation, **possibly reflecting** infection") is
   hedged: the finding is seen, what it means is not decided.
   Findings that mean pneumonia (*strong*): pneumonia, consolidation, infiltrates, airspace opacity,
   lung infection, … Non-specific findings (*weak*): opacity alone, haziness, density, ground glass;
   a weak finding never decides pneumonia; on its own it makes the reading uncertain, and "no
   opacity" counts as a normal statement. Normal statements: "normal chest x-ray", "lungs are
   clear", bare "Normal." under a lungs or impression heading. Partial ones ("the left lung is
   clear", "otherwise normal") only decide when nothing else does.
   Sentence verdict: affirmed strong → pneumonia; else hedged strong → uncertain; else negated
   finding or normal statement → normal; else partial normal or weak finding (weak votes).
4. **Weighing** (here). Sentences under an Impression / Conclusion heading (the reference prompt's
   "3. Conclude …" item included) or opening with "In conclusion", "Overall", … form the
   *impression* tier; the rest is the *finding* tier. The impression tier decides when it says
   anything firm or hedged; within a tier the last such statement wins (a later hedge amends an
   earlier normal statement and vice versa), except that a hedge never takes back an earlier
   affirmed pneumonia — unless it opens by pointing back at it ("Consolidation at the right base.
   **This may represent** atelectasis or pneumonia."). Only weak votes → partial normals give
   normal, non-specific findings give
   uncertain. Nothing at all → uncertain (``no-statement``).

Known limits: a cue's scope runs to the end of its clause, and over commas only when the words form
a list; cues after a finding look at most eight words ahead; a heading that names a finding is never
read as a finding, so "**Right lower lobe pneumonia**" alone gives ``uncertain``. Languages other
than English have smaller vocabularies: expect more ``uncertain`` readings there.

**Cut-off reports.** ``read_report(text, cut_off=True)`` reads a report that hit the token budget.
Its reading stands only when the report had reached its verdict before the cut: a final-answer
line, or a statement in the impression tier. Otherwise the reading is *uncertain* with rule
``cut-off``, keeping the sentence that would have decided as its evidence.

**Thoughts.** Only the answer is read, never MedGemma 1.5's thought (:mod:`cxr_lib.models.thoughts`):
text that still holds the thought markers is read without its thought, and an output that never
leaves its thought (``thought_only=True``, or markers with no answer after them) is *uncertain*
with rule ``thought-only``.

:func:`read_report` accepts any string (empty included) and never raises. ``evidence`` is always
a substring of :func:`plain_text` of the input's answer (``""`` when nothing decided).
"""

from __future__ import annotations

from dataclasses import dataclass

from cxr_lib.analysis.labels_final import final_answer
from cxr_lib.analysis.labels_lexicon import Lexicon, current
from cxr_lib.analysis.labels_markup import LABEL, clean_line, evidence_span, highlight, plain_lines, plain_text
from cxr_lib.analysis.labels_scope import HEDGES, classify, find_triggers, names_finding
from cxr_lib.analysis.labels_units import looks_like_label, units
from cxr_lib.models.thoughts import THOUGHT_END, THOUGHT_ONLY_RULE, THOUGHT_START, split_text

__all__ = ["LABELS", "RULES", "Reading", "evidence_span", "highlight", "plain_lines", "plain_text", "read_report"]

LABELS = ("normal", "pneumonia", "uncertain")

#: Every rule name a :class:`Reading` can carry.
RULES = (
    "final-answer",
    "impression-positive", "impression-negated", "impression-normal", "impression-hedged",
    "finding-positive", "finding-negated", "finding-normal", "finding-hedged",
    "answer-positive", "answer-negated", "answer-hedged",
    "partial-normal", "nonspecific-finding", "no-statement", "cut-off", "thought-only",
)


@dataclass(frozen=True)
class Reading:
    """The label read from a report, the text that decided it and the rule that did."""

    label: str  # "normal" | "pneumonia" | "uncertain"
    evidence: str  # the deciding sentence or line, from plain_text(report); "" if none
    rule: str  # one of RULES


@dataclass(frozen=True)
class _Vote:
    label: str
    kind: str  # positive | negated | normal | hedged | partial-normal | nonspecific
    evidence: str
    tier: str
    answer: bool = False
    amends: bool = False  # a hedge about what the sentence before it found ("This may represent pneumonia.")

    @property
    def weak(self) -> bool:
        return self.kind in ("partial-normal", "nonspecific")


def _answer_vote(label: str, value: str, lex: Lexicon, *, short_negation: bool = True) -> str | None:
    """The label a short answer gives to a label or question naming a finding, or None.

    An answer is a yes/no word of any language ("No.", "Present", "nein", "未见"), or — when the
    answer names no finding of its own — a cue that would act on the finding from after it ("not
    seen", "nicht nachweisbar", "غير موجود", "cannot be excluded", "likely"). With ``short_negation``,
    a negation that needs an object counts too when the answer is at most four words ("no evidence",
    "there is none", "لا يوجد").
    """
    if not names_finding(label, lex):
        return None
    strong = bool(lex.strong.search(label))
    match = lex.answer.match(value)
    if match:
        answer = match.group("ans")
        following = value[len(answer):].lstrip()
        if not (lex.interjection.fullmatch(answer) and following and following[0].isalnum()):
            for result, words in lex.answer_values.items():
                if words.fullmatch(answer):
                    return "uncertain" if result == "pneumonia" and not strong else result  # "Opacity: present"
    if names_finding(value, lex):
        return None  # "No effusion, but consolidation" is a sentence of its own
    clause = value[: next((s for s, _ in find_triggers(value, lex)["term"] if s > 0), len(value))]
    trig = find_triggers(clause, lex)
    if trig["request"]:
        return None
    negations = ["neg_both", "neg_post"] + (["neg_pre"] if short_negation and len(clause.split()) <= 4 else [])
    if any(trig[name] for name in HEDGES):
        return "uncertain"
    if any(trig[name] for name in negations):
        return "normal"
    if trig["positive_rel"]:
        return "pneumonia" if strong else "uncertain"
    return None


def _inner_answer(sentence: str, lex: Lexicon) -> str | None:
    """The answer of a "Finding: answer" pair inside a sentence ("Impression: Pneumonia: not seen.")."""
    inner = LABEL.match(sentence)
    if not inner or not inner.group("value").strip() or not looks_like_label(inner.group("label"), lex):
        return None
    return _answer_vote(inner.group("label").strip(), inner.group("value").strip(), lex)


def _is_question(sentence: str, lex: Lexicon) -> bool:
    """A question ("Are there pneumonia opacities?", "¿Hay neumonía?", "是否有肺炎？")."""
    opened = sentence.lstrip(lex.opening_marks + " ")
    return bool(lex.question_end.search(sentence) and lex.interrogative.match(opened))


def _is_label_question(sentence: str, lex: Lexicon) -> bool:
    """A finding's name asked as a question ("Pneumonia?"), which the next sentence may answer."""
    bare = lex.question_end.sub("", sentence).strip()
    return bool(lex.question_end.search(sentence) and bare and names_finding(bare, lex) and looks_like_label(bare, lex))


def _skip(sentence: str, lex: Lexicon) -> bool:
    return bool(
        lex.prompt_echo.match(sentence)
        or lex.meta.search(sentence)
        or lex.recommendation.match(sentence)
    )


_KINDS = {"pneumonia": "positive", "normal": "negated", "uncertain": "hedged"}


def _votes(raw_lines: list[str], lines: list[str], lex: Lexicon) -> list[_Vote]:
    votes: list[_Vote] = []
    pending_question = ""  # a heading or question naming a finding, awaiting "Yes." / "No."
    deferred: _Vote | None = None  # the vote of a question such as "Pneumonia?" unless the next sentence answers it
    for unit in units(raw_lines, lines, lex):
        asked, pending_question = pending_question, ""
        answered, answers_question = None, False
        if unit.text and unit.section.kind != "ignore":
            sentence, tier = unit.text, unit.tier
            evidence = unit.line if unit.label else sentence
            if unit.label:
                answered = _answer_vote(unit.label, sentence, lex)
            elif asked:
                answered = _answer_vote(asked, sentence, lex, short_negation=False)
                answers_question = answered is not None
            if answered is None:
                answered, evidence = _inner_answer(sentence, lex), unit.evidence or sentence
        if deferred is not None and not answers_question:
            votes.append(deferred)  # "Pneumonia?" that nothing answered is read as it stands
        deferred = None
        if not unit.text:  # a heading line
            pending_question = unit.label if names_finding(unit.label, lex) else ""
        if not unit.text or unit.section.kind == "ignore":
            continue
        if answered is not None:
            votes.append(_Vote(answered, _KINDS[answered], evidence, tier, answer=True))
            continue
        if _is_question(sentence, lex):
            pending_question = sentence if names_finding(sentence, lex) else ""
            continue
        if _skip(sentence, lex):
            continue
        body = lex.interjection_prefix.sub(lambda m: " " * len(m.group()), sentence)
        subject = "conclusion" if tier == "impression" else unit.section.subject
        verdict = classify(body, subject, unit.section.kind == "differential", lex)
        if verdict and _is_label_question(sentence, lex):
            pending_question, deferred = sentence, _Vote(verdict[0], verdict[1], unit.evidence or sentence, tier)
        elif verdict:
            amends = verdict[1] == "hedged" and bool(lex.relative.match(sentence))
            votes.append(_Vote(verdict[0], verdict[1], unit.evidence or sentence, tier, amends=amends))
    return votes + ([deferred] if deferred is not None else [])


def _rule(vote: _Vote) -> str:
    if vote.weak:
        return "partial-normal" if vote.kind == "partial-normal" else "nonspecific-finding"
    if vote.answer:
        return f"answer-{vote.kind}"
    return f"{vote.tier}-{vote.kind}"


def _decide_tier(votes: list[_Vote]) -> _Vote | None:
    decided: _Vote | None = None
    for vote in votes:
        if vote.weak:
            continue
        if vote.kind == "hedged" and decided is not None and decided.label == "pneumonia" and not vote.amends:
            continue  # a hedge does not take back an affirmed pneumonia, unless it says what that finding means
        decided = vote
    return decided


def read_report(text: str, cut_off: bool = False, thought_only: bool = False) -> Reading:
    """Read a free-text report (Markdown allowed, any registered language) into a :class:`Reading`.

    ``cut_off``: the report hit the token budget; unless it had reached its verdict (a final-answer
    line or an impression statement) the reading is *uncertain* with rule ``cut-off``.
    ``thought_only``: the output never left its thought: *uncertain* with rule ``thought-only``.
    Never raises: any string, empty included, gives one of :data:`LABELS`.
    """
    if isinstance(text, str) and (THOUGHT_START in text or THOUGHT_END in text):
        split = split_text(text)
        text, thought_only = split.answer, thought_only or split.thought_only
    if thought_only:
        return Reading("uncertain", "", THOUGHT_ONLY_RULE)
    reading, concluded = _read(text)
    if cut_off and not concluded:
        return Reading("uncertain", reading.evidence, "cut-off")
    return reading


def _read(text: str) -> tuple[Reading, bool]:
    """The reading, and whether it came from a final-answer line or the impression tier."""
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    lex = current()
    raw_lines = text.splitlines()
    lines = [clean_line(raw) for raw in raw_lines]
    final = final_answer(lines, lex)
    if final is not None:
        return Reading(final.label, final.line, "final-answer"), True
    votes = _votes(raw_lines, lines, lex)
    for tier in ("impression", "finding"):
        vote = _decide_tier([v for v in votes if v.tier == tier])
        if vote is not None:
            return Reading(vote.label, vote.evidence, _rule(vote)), tier == "impression"
    weak = [v for v in votes if v.weak]
    positive = [v for v in weak if v.kind == "nonspecific"]
    if positive:
        return Reading("uncertain", positive[-1].evidence, "nonspecific-finding"), False
    if weak:
        return Reading("normal", weak[-1].evidence, "partial-normal"), False
    return Reading("uncertain", "", "no-statement"), False
