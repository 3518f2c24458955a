"""The label reader's patterns, compiled from every registered language's vocabulary.

A report's language is not known in advance (a report in one language may end with a final-answer
line in another), so each pattern joins the phrases of all registered languages
(:mod:`cxr_lib.languages`). :func:`current` compiles them once and again only after the registry
changes. Phrases of languages written with spaces get word boundaries; the others' do not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable

from cxr_lib.languages import LANGUAGES, Vocabulary, version

Pattern = re.Pattern[str]


def _alternation(phrases: Iterable[str]) -> str:
    return "|".join(phrases)


#: The end of a spaced phrase: a word boundary, or an elided article or preposition ("d'", "l'").
_END = r"(?:(?<=['’])|(?!\w))"


def _set(chars: str) -> str:
    return "[" + re.escape("".join(dict.fromkeys(chars))) + "]" if chars else "(?!)"


@dataclass(frozen=True)
class Lexicon:
    """Compiled patterns; one attribute per kind of phrase the engine looks for."""

    strong: Pattern
    weak: Pattern
    opacity: Pattern
    pseudo: Pattern
    request: Pattern
    hedge_fixed: Pattern
    hedge_pre: Pattern
    hedge_rel: Pattern
    positive_rel: Pattern
    neg_pre: Pattern
    neg_both: Pattern
    neg_post: Pattern
    hedge_post: Pattern
    relative: Pattern
    interpretation: Pattern
    termination: Pattern
    comma: Pattern
    list_conjunction: Pattern
    list_continues: Pattern
    global_normal: Pattern
    lung_normal: Pattern
    bare_normal: Pattern
    bare_subject: Pattern
    other_organ: Pattern
    lung_mention: Pattern
    partial: Pattern
    left: Pattern
    right: Pattern
    both_sides: Pattern
    prompt_echo: Pattern
    interrogative: Pattern
    meta: Pattern
    recommendation: Pattern
    sec_conclusion: Pattern
    sec_differential: Pattern
    sec_ignore: Pattern
    sec_body: Pattern
    sec_heart: Pattern
    sec_lungs: Pattern
    inline_conclusion: Pattern
    clause_verb: Pattern
    abbreviation: Pattern
    sentence_end: Pattern
    question_end: Pattern
    question_next: Pattern
    opening_marks: str
    fa_line: Pattern
    fa_marker_only: Pattern
    fa_token_only: Pattern
    fa_echo_after: Pattern
    fa_negated_after: Pattern
    fa_instruction: Pattern
    fa_pneumonia: Pattern
    fa_uncertain: Pattern
    answer: Pattern
    answer_values: dict[str, Pattern]
    interjection: Pattern
    interjection_prefix: Pattern


class _Builder:
    """Joins one field of every vocabulary, spaced and unspaced languages apart."""

    def __init__(self, vocabularies: list[Vocabulary]):
        self.vocabularies = vocabularies

    def phrases(self, name: str, spaced: bool | None = None) -> list[str]:
        return [p for v in self.vocabularies if spaced is None or v.spaced == spaced for p in getattr(v, name)]

    def chars(self, name: str, spaced: bool | None = None) -> str:
        return "".join(getattr(v, name) for v in self.vocabularies if spaced is None or v.spaced == spaced)

    def words(self, *names: str) -> str:
        """Regex source: the fields' phrases, with word boundaries where words are spaced."""
        spaced = [p for name in names for p in self.phrases(name, True)]
        unspaced = [p for name in names for p in self.phrases(name, False)]
        parts = [r"(?<!\w)(?:" + _alternation(spaced) + r")" + _END] if spaced else []
        parts += ["(?:" + _alternation(unspaced) + ")"] if unspaced else []
        return "|".join(parts) or "(?!)"

    def rx(self, *names: str, extra: str = "") -> Pattern:
        return re.compile("|".join(p for p in (self.words(*names), extra) if p), re.IGNORECASE)

    def alt(self, *names: str, spaced: bool | None = None) -> str:
        """Regex source: the fields' phrases as one alternation, no boundaries (``(?!)`` when none)."""
        return _alternation(p for name in names for p in self.phrases(name, spaced)) or "(?!)"

    def group(self, *names: str, spaced: bool | None = None) -> str:
        """:meth:`alt` in a non-capturing group."""
        return "(?:" + self.alt(*names, spaced=spaced) + ")"

    def anchored(self, *names: str) -> Pattern:
        """The fields' phrases at the start of a text, ending at a word boundary (spaced) or anywhere."""
        spaced = _alternation(p for name in names for p in self.phrases(name, True))
        unspaced = _alternation(p for name in names for p in self.phrases(name, False))
        parts = ([r"^(?:" + spaced + r")(?!\w)"] if spaced else []) + ([r"^(?:" + unspaced + ")"] if unspaced else [])
        return re.compile("|".join(parts) or "(?!)", re.IGNORECASE)


def _compile(vocabularies: list[Vocabulary]) -> Lexicon:
    b = _Builder(vocabularies)
    lung = b.group("lung_words", spaced=True)
    lung_normal = "|".join([
        rf"(?<!\w){lung}(?!\w)(?!\W+{b.group('lung_not_parenchyma')})(?:\W+\w+){{0,5}}?\W+"
        rf"{b.group('normal_words', spaced=True)}(?!\w)",
        rf"(?<!\w){b.group('normal_words_before_lung', spaced=True)}\s+{lung}(?!\w)",
        b.words("normal_lung_phrases"),
    ])
    marks_spaced, marks_unspaced = b.chars("sentence_ends", True), b.chars("sentence_ends", False)
    questions = b.chars("question_marks")
    clause_breaks, commas = b.chars("clause_breaks"), b.chars("commas")

    marker = rf"(?:(?<!\w){b.group('answer_markers', spaced=True)}(?!\w)|{b.group('answer_markers', spaced=False)})"
    tokens = b.group("pneumonia_tokens", "normal_tokens", "uncertain_tokens")
    token_words = b.alt("pneumonia_tokens", "normal_tokens", "uncertain_tokens")
    token = rf"(?P<neg>{b.group('token_negations')}\s*[- ]?\s*)?(?P<tok>{token_words})"
    copula = rf"(?:{b.group('answer_copulas')}\s*)?"
    open_quote, close_quote = r"[\"'«“\[]?", r"[\]\"'»”]?"
    answers = {
        "pneumonia": b.group("yes_answers"), "normal": b.group("no_answers"), "uncertain": b.group("unsure_answers"),
    }
    interjections = b.group("interjections")
    return Lexicon(
        strong=b.rx("pneumonia_findings"),
        weak=b.rx("opacity_findings", "other_nonspecific_findings"),
        opacity=re.compile(r"^(?:" + b.words("opacity_findings") + r")$", re.IGNORECASE),
        pseudo=b.rx("pseudo_negations"),
        request=b.rx("requests"),
        hedge_fixed=b.rx("hedge_either"),
        hedge_pre=b.rx("hedge_before"),
        hedge_rel=b.rx("hedge_linking"),
        positive_rel=b.rx("call_linking"),
        neg_pre=b.rx("negation_before"),
        neg_both=b.rx("negation_either"),
        neg_post=b.rx("negation_after"),
        hedge_post=b.rx("hedge_after"),
        relative=b.rx("relative_openers"),
        interpretation=b.rx("interpretation_words"),
        termination=b.rx("terminations", extra=_set(clause_breaks)),
        comma=re.compile(_set(commas)),
        list_conjunction=b.rx("or_words", "nor_words", "and_words"),
        list_continues=re.compile(
            rf"^[^{re.escape(commas)};.]*?{_set(commas)}?\s*(?:" + b.words("or_words", "nor_words") + ")", re.IGNORECASE
        ),
        global_normal=b.rx("normal_study"),
        lung_normal=re.compile(lung_normal, re.IGNORECASE),
        bare_normal=re.compile(
            rf"^(?:{b.group('copulas')}\s+)?(?:{b.group('degree_words')} )?{b.group('bare_normal')}$", re.IGNORECASE
        ),
        bare_subject=re.compile(rf"^{b.group('bare_subjects')}\s+", re.IGNORECASE),
        other_organ=b.rx("other_organs"),
        lung_mention=b.rx("lung_words", "chest_words", "lung_adjectives"),
        partial=b.rx("partial_normal"),
        left=b.rx("left_words"),
        right=b.rx("right_words"),
        both_sides=b.rx("both_sides_words"),
        prompt_echo=b.anchored("instruction_openers"),
        interrogative=b.anchored("question_openers"),
        meta=b.rx("meta"),
        recommendation=b.anchored("recommendation_openers"),
        sec_conclusion=b.rx("conclusion_headings"),
        sec_differential=b.rx("differential_headings"),
        sec_ignore=b.rx("ignored_headings"),
        sec_body=b.rx("body_headings"),
        sec_heart=b.rx("heart_headings"),
        sec_lungs=b.rx("lung_words", "lung_adjectives"),
        inline_conclusion=b.anchored("conclusion_openers"),
        clause_verb=b.rx("clause_verbs"),
        abbreviation=re.compile(rf"(?:\b{b.group('abbreviations')}|\b[a-z])\.$", re.IGNORECASE),
        sentence_end=re.compile(
            rf"{_set(marks_spaced)}+(?=\s)|{_set(marks_unspaced)}+|{_set(marks_spaced)}+$"
        ),
        question_end=re.compile(rf"{_set(questions)}\s*$"),
        question_next=re.compile(rf"\s*{_set(questions)}"),
        opening_marks=b.chars("opening_marks"),
        fa_line=re.compile(
            rf"{marker}\s*(?:\([^)]{{0,40}}\)\s*)?{copula}[:：=\-–—]?\s*{copula}{open_quote}\s*{token}(?!\w)",
            re.IGNORECASE,
        ),
        fa_marker_only=re.compile(rf"^{marker}\s*[:：=\-–—]?\s*$", re.IGNORECASE),
        fa_token_only=re.compile(rf"^{open_quote}\s*{token}\s*{close_quote}[.!。]?$", re.IGNORECASE),
        fa_echo_after=re.compile(
            rf"^\s*[\]\)\"'»”]?\s*(?:/|\||,|{b.alt('or_words')})\s*[\[\"'«“]?\s*{tokens}", re.IGNORECASE
        ),
        fa_negated_after=re.compile(rf"^[\s,:\-–—]*{b.group('token_negated_after')}(?!\w)", re.IGNORECASE),
        fa_instruction=b.rx("answer_instructions"),
        fa_pneumonia=re.compile(b.group("pneumonia_tokens"), re.IGNORECASE),
        fa_uncertain=re.compile(b.group("uncertain_tokens"), re.IGNORECASE),
        answer=re.compile(
            rf"^(?P<ans>{b.alt('yes_answers', 'no_answers', 'unsure_answers')})(?!\w)[\s.!,;:]*", re.IGNORECASE
        ),
        answer_values={label: re.compile(words, re.IGNORECASE) for label, words in answers.items()},
        interjection=re.compile(interjections, re.IGNORECASE),
        interjection_prefix=re.compile(rf"^{interjections}\s*[,.;:!]\s*", re.IGNORECASE),
    )


_compiled: list[tuple[int, Lexicon]] = []  # (registry version, its lexicon): the latest one


def current() -> Lexicon:
    """The lexicon of the languages registered now (compiled once per state of the registry)."""
    key = version()
    latest = _compiled[-1] if _compiled else None
    if latest is not None and latest[0] == key:
        return latest[1]
    lexicon = _compile([language.vocabulary for language in LANGUAGES.values()])
    _compiled[:] = [(key, lexicon)]  # one assignment: a reader in another thread sees the old or the new
    return lexicon
