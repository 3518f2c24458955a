"""French: the words and constructions the label reader looks for in a French report.

Each field is described in :class:`~cxr_lib.languages.vocabulary.Vocabulary`. Phrases are regular
expressions, matched case-insensitively with word boundaries around them.
"""

from __future__ import annotations

from cxr_lib.languages.registry import Language
from cxr_lib.languages.vocabulary import Vocabulary

VOCABULARY = Vocabulary(
    pneumonia_findings=(r"pneumonies?", r"pneumopathies?"),
    opacity_findings=(r"opacit[ée]s?",),
    negation_before=(r"pas de", r"pas d'", r"aucune?", r"absence d[e']", r"sans"),
    negation_after=(r"non visible", r"n'est pas"),
    hedge_before=(r"possiblement", r"probablement pas"),
    hedge_after=(r"ne peut être exclue?",),
    call_linking=(r"suspect(?:e|é)?e? de",),
    terminations=(r"mais", r"cependant", r"toutefois"),
    or_words=(r"ou", r"ou bien"),
    nor_words=(r"ni",),
    and_words=(r"et",),
    normal_study=(r"radiographie (?:thoracique )?normale",),
    lung_words=(r"poumons?",),
    normal_words=(r"clairs?", r"normaux"),
    bare_normal=(r"normale?",),
    other_organs=(r"c[œo]ur",),
    partial_normal=(r"sinon",),
    conclusion_openers=(r"en conclusion", r"en r[ée]sum[ée]"),
    ignored_headings=(r"recommandations?",),
    body_headings=(r"constatations?",),
    heart_headings=(r"c[œo]ur",),
    answer_markers=(r"r[ée]ponse\s+finale", r"r[ée]ponse"),
    pneumonia_tokens=(r"pneumonie",),
    normal_tokens=(r"normale",),
    uncertain_tokens=(r"incertaine?",),
    token_negations=(r"pas de",),
    token_negated_after=(r"n'est pas",),
    yes_answers=(r"oui",),
    no_answers=(r"non",),
    interjections=(r"non", r"oui"),
)

LANGUAGE = Language(code="fr", name="French", prompt_line="Please answer in French.", vocabulary=VOCABULARY, order=1)
