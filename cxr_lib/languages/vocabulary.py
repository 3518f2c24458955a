"""What the label reader needs to know about a language: its words and constructions, as data.

A :class:`Vocabulary` holds, for one language, the phrases the reader
(:mod:`cxr_lib.analysis.labels`) looks for. The reader's engine — sentences, sections, the scope of a
negation or a hedge, final-answer lines, the sentence that decided — is the same for every language;
only these tables differ. Each entry is a regular expression for one phrase (``r"infiltrat(?:e|es)"``),
matched case-insensitively. For a language written with spaces between words (``spaced=True``) the
engine puts word boundaries around every phrase; for one written without (Chinese) it does not.

Where a field says *before* or *after*, it means the position relative to the finding the phrase
acts on ("**no** pneumonia", "pneumonia **is not seen**"). Certainty follows one scale in every
language (Panicek & Hricak, *Radiology* 2016): ≥ 75 % is a call (``call_linking``), ≈ 50 % a hedge
(``hedge_*``), ≤ 25 % a negation (``negation_either``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields

Phrases = tuple[str, ...]


@dataclass(frozen=True)
class Vocabulary:
    """One language's words and constructions for the label reader (every field is optional)."""

    spaced: bool = True  # words separated by spaces (word boundaries apply); False for Chinese

    # --- punctuation (characters, not phrases)
    sentence_ends: str = ""  # end a sentence ("." needs a space or the line's end after it in a spaced language)
    question_marks: str = ""  # end a question
    opening_marks: str = ""  # open a sentence and are skipped before its first word (Spanish "¿", "¡")
    commas: str = ""  # separate items of a list or clauses
    clause_breaks: str = ""  # end the scope of a negation or hedge

    # --- findings
    pneumonia_findings: Phrases = ()  # mean pneumonia ("consolidation", "airspace opacity")
    opacity_findings: Phrases = ()  # non-specific; their negation is a normal statement ("no opacity")
    other_nonspecific_findings: Phrases = ()  # non-specific; their negation says nothing ("peribronchial thickening")

    # --- negation, hedging and their scope
    negation_before: Phrases = ()  # "no", "without", "absence of"
    negation_after: Phrases = ()  # "is not seen", "excluded"
    negation_either: Phrases = ()  # ≤ 25 % on the scale, either side: "unlikely", "absent"
    pseudo_negations: Phrases = ()  # hold a negation but negate nothing: "no change", "not only"
    hedge_before: Phrases = ()  # ≈ 50 %: "possible", "may"
    hedge_after: Phrases = ()  # "is possible", "versus"
    hedge_either: Phrases = ()  # ≈ 50 % phrases holding a negation, found first: "cannot be excluded"
    hedge_linking: Phrases = ()  # relate a noun to a finding, see through an earlier negation: "may represent"
    call_linking: Phrases = ()  # ≥ 75 %, a call; see through an earlier negation: "consistent with", "likely"
    relative_openers: Phrases = ()  # open a clause about the noun before it: "which", "that" (after a comma or not)
    interpretation_words: Phrases = ()  # say what a finding means: "represent", "reflecting", "infection"
    requests: Phrases = ()  # what to do, not what is seen: "to rule out", "history of", "if"
    terminations: Phrases = ()  # end a trigger's scope: "but", "however"
    or_words: Phrases = ()  # "or": a list goes on over a comma
    nor_words: Phrases = ()  # "nor"
    and_words: Phrases = ()  # "and"

    # --- normal statements
    normal_study: Phrases = ()  # the whole study is normal: "normal chest x-ray", "no acute process"
    lung_words: Phrases = ()  # the lungs as a subject: "lungs", "lung fields"
    lung_adjectives: Phrases = ()  # name the lungs in headings and mentions: "pulmonary"
    chest_words: Phrases = ()  # name the chest: "chest", "cardiopulmonary"
    lung_not_parenchyma: Phrases = ()  # after a lung word, make it not about the parenchyma: "volumes"
    normal_words: Phrases = ()  # after a lung word: "clear", "normal"
    normal_words_before_lung: Phrases = ()  # before a lung word: "clear lungs"
    normal_lung_phrases: Phrases = ()  # whole phrases: "双肺清晰"
    bare_normal: Phrases = ()  # a whole sentence under a lungs or impression heading: "Normal."
    bare_subjects: Phrases = ()  # may open such a sentence: "the lungs"
    copulas: Phrases = ()  # may open it too: "is", "appears"
    degree_words: Phrases = ()  # may come before the word: "entirely", "essentially"
    other_organs: Phrases = ()  # a normal statement about them is not about the lungs: "heart", "bones"
    partial_normal: Phrases = ()  # a normal statement about part: "otherwise", "elsewhere"
    left_words: Phrases = ()
    right_words: Phrases = ()
    both_sides_words: Phrases = ()  # "both", "bilateral"

    # --- sentences that are not statements about the image
    instruction_openers: Phrases = ()  # a prompt echo opens with: "describe", "please conclude"
    question_openers: Phrases = ()  # a question opens with: "is", "are there"
    meta: Phrases = ()  # disclaimers and caveats: "as an AI", "consult a"
    recommendation_openers: Phrases = ()  # "recommend", "follow-up"
    clause_verbs: Phrases = ()  # make "X: …" a clause, not a label: "is", "shows"
    abbreviations: Phrases = ()  # end with a full stop that does not end the sentence: "e\.g", "vs"

    # --- sections
    conclusion_headings: Phrases = ()  # "Impression", "Conclusion"
    conclusion_openers: Phrases = ()  # open a concluding sentence: "in conclusion", "overall"
    differential_headings: Phrases = ()
    ignored_headings: Phrases = ()  # "Recommendations", "History"
    body_headings: Phrases = ()  # "Findings"
    heart_headings: Phrases = ()  # "Heart"

    # --- the fixed final-answer line ("Final answer: PNEUMONIA")
    answer_markers: Phrases = ()  # "final answer", "answer"
    answer_copulas: Phrases = ()  # between the marker and the token: "is"
    pneumonia_tokens: Phrases = ()  # "pneumonia"
    normal_tokens: Phrases = ()  # "normal"
    uncertain_tokens: Phrases = ()  # "uncertain"
    token_negations: Phrases = ()  # before a token: "no" (pneumonia)
    token_negated_after: Phrases = ()  # after a token, make the line a sentence: "is not"
    answer_instructions: Phrases = ()  # the prompt's instruction about the line: "end your answer with"

    # --- short answers to a label or question naming a finding ("Pneumonia: absent")
    yes_answers: Phrases = ()  # "yes", "present"
    no_answers: Phrases = ()  # "no", "none", "absent"
    unsure_answers: Phrases = ()  # "possible", "cannot be excluded"
    interjections: Phrases = ()  # "yes", "no": an answer only when no word follows

    def check(self) -> list[str]:
        """Problems with this vocabulary (a phrase that is not a valid regular expression), as lines."""
        problems = []
        for spec in fields(self):
            value = getattr(self, spec.name)
            if spec.name == "spaced" or isinstance(value, str):
                continue
            if not isinstance(value, tuple) or not all(isinstance(p, str) and p for p in value):
                problems.append(f"{spec.name} must be a tuple of non-empty strings")
                continue
            for phrase in value:
                try:
                    re.compile(phrase)
                except re.error as exc:
                    problems.append(f"{spec.name}: {phrase!r} is not a valid regular expression ({exc})")
        for phrase in sorted(set(self.negation_before) & set(self.negation_after)):
            problems.append(f"{phrase!r} is in both negation_before and negation_after: a negation found on either "
                            "side of the finding belongs in negation_either")
        return problems


#: The names of the phrase fields (every field but ``spaced`` and the punctuation strings).
PHRASE_FIELDS = tuple(f.name for f in fields(Vocabulary) if f.type in ("Phrases", Phrases))
#: The names of the punctuation fields.
PUNCTUATION_FIELDS = tuple(f.name for f in fields(Vocabulary) if f.type in ("str", str))
