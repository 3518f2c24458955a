"""German: the words and constructions the label reader looks for in a German report.

Each field is described in :class:`~cxr_lib.languages.vocabulary.Vocabulary`. Phrases are regular
expressions, matched case-insensitively with word boundaries around them.
"""

from __future__ import annotations

from cxr_lib.languages.registry import Language
from cxr_lib.languages.vocabulary import Vocabulary

VOCABULARY = Vocabulary(
    pneumonia_findings=(r"pneumonien?", r"lungenentz[üu]ndung(?:en)?", r"konsolidierung(?:en)?", r"infiltrate?n?"),
    opacity_findings=(r"verschattung(?:en)?",),
    negation_before=(r"kein(?:e|en|er|es)?", r"ohne", r"nicht"),
    negation_after=(r"nicht nachweisbar", r"ausgeschlossen", r"nicht vorhanden"),
    hedge_before=(r"m[öo]glich(?:e|er|en)?", r"verdacht auf", r"fraglich(?:e|er)?"),
    hedge_after=(r"nicht auszuschlie(?:ß|ss)en",),
    terminations=(r"aber", r"jedoch", r"allerdings"),
    or_words=(r"oder",),
    nor_words=(r"noch",),
    normal_study=(r"normalbefund", r"unauff[äa]llig(?:er|e|es)?(?: befund| thorax| r[öo]ntgen\w*)?"),
    lung_words=(r"lunge[n]?",),
    normal_words=(r"frei", r"unauff[äa]llig"),
    bare_normal=(r"unauff[äa]llig",),
    other_organs=(r"herz\w*",),
    partial_normal=(r"ansonsten", r"sonst"),
    conclusion_headings=(r"schlussfolgerung", r"beurteilung", r"zusammenfassung", r"diagnose"),
    conclusion_openers=(r"zusammenfassend", r"insgesamt"),
    ignored_headings=(r"empfehlung(?:en)?",),
    body_headings=(r"befund",),
    heart_headings=(r"herz",),
    answer_markers=(r"endg[üu]ltige\s+antwort", r"antwort"),
    pneumonia_tokens=(r"lungenentz[üu]ndung",),
    normal_tokens=(r"unauff[äa]llig",),
    uncertain_tokens=(r"unsicher",),
    token_negations=(r"kein[e]?",),
    token_negated_after=(r"ist nicht",),
    yes_answers=(r"ja",),
    no_answers=(r"nein", r"keine?"),
    interjections=(r"nein", r"ja"),
)

LANGUAGE = Language(code="de", name="German", prompt_line="Please answer in German.", vocabulary=VOCABULARY, order=5)
