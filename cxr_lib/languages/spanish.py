"""Spanish: the words and constructions the label reader looks for in a Spanish report.

Each field is described in :class:`~cxr_lib.languages.vocabulary.Vocabulary`. Phrases are regular
expressions, matched case-insensitively with word boundaries around them.
"""

from __future__ import annotations

from cxr_lib.languages.registry import Language
from cxr_lib.languages.vocabulary import Vocabulary

VOCABULARY = Vocabulary(
    pneumonia_findings=(r"neumon[íi]as?", r"bronconeumon[íi]as?"),
    opacity_findings=(r"opacidad(?:es)?",),
    negation_before=(r"sin", r"ningun[oa]?", r"ningún", r"ausencia de", r"no hay"),
    negation_after=(r"no visible", r"ausente", r"no se observa"),
    hedge_before=(r"posible", r"posiblemente"),
    hedge_after=(r"no se puede descartar",),
    call_linking=(r"sospechos[oa] de",),
    terminations=(r"pero", r"sin embargo", r"aunque"),
    or_words=(r"o",),
    nor_words=(r"ni",),
    and_words=(r"y", r"e"),
    normal_study=(r"radiograf[íi]a (?:de t[óo]rax )?normal",),
    lung_words=(r"pulmones", r"pulm[óo]n"),
    normal_words=(r"limpios?", r"claros?", r"normales"),
    other_organs=(r"coraz[óo]n",),
    partial_normal=(r"por lo dem[áa]s",),
    conclusion_headings=(r"conclusi[óo]n", r"diagn[óo]stico", r"impresi[óo]n"),
    conclusion_openers=(r"en resumen", r"en conclusi[óo]n"),
    ignored_headings=(r"recomendaci[óo]n(?:es)?",),
    body_headings=(r"hallazgos",),
    heart_headings=(r"coraz[óo]n",),
    answer_markers=(r"respuesta\s+final", r"respuesta"),
    pneumonia_tokens=(r"neumon[íi]a",),
    uncertain_tokens=(r"incierto",),
    token_negations=(r"sin",),
    token_negated_after=(r"no es",),
    yes_answers=(r"s[íi]",),
    interjections=(r"s[íi]",),
)

LANGUAGE = Language(code="es", name="Spanish", prompt_line="Please answer in Spanish.", vocabulary=VOCABULARY, order=2)
