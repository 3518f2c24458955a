"""German: the words and constructions the label reader looks for in a German report.

Negation is "kein(e)", "ohne", "frei von", "kein Hinweis auf", and "nicht", which German puts late
in the clause ("eine Pneumonie ist nicht nachweisbar", "… lässt sich nicht abgrenzen"), so "nicht"
acts from either side. Hedges are "möglich(erweise)", "fraglich", "eventuell", the modals "kann /
könnte" (verb-final: "…, die einer Pneumonie entsprechen könnte") and "nicht auszuschließen";
"vereinbar mit", "verdächtig auf", "am ehesten" and "wahrscheinlich" are calls. A relative clause
follows a comma ("Konsolidierung, die …"). Each field is described in
:class:`~cxr_lib.languages.vocabulary.Vocabulary`.
"""

from __future__ import annotations

from cxr_lib.languages.registry import Language
from cxr_lib.languages.vocabulary import Vocabulary

_AUSSCHLIESSEN = r"auszuschlie(?:ß|ss)en"

VOCABULARY = Vocabulary(
    pneumonia_findings=(
        r"pneumonien?", r"(?:broncho|pleuro)pneumonien?", r"lungenentz[üu]ndung(?:en)?", r"konsolidierung(?:en)?",
        r"konsolidation(?:en)?", r"infiltrate?n?", r"infiltration(?:en)?", r"pneumonisch(?:e|er|es|en|em)?",
        r"(?:entz[üu]ndlich|alveol[äa]r)(?:e|er|es|en|em)? (?:verdichtung|verschattung|infiltration)(?:en)?",
        r"lungeninfekt(?:ion)?(?:en)?", r"pulmonale?[rn]? infekt(?:ion)?", r"luftbronchogramm\w*",
    ),
    opacity_findings=(r"verschattung(?:en)?", r"verdichtung(?:en)?", r"transparenzminderung(?:en)?", r"milchglas\w*",
                      r"eintr[üu]bung(?:en)?"),
    other_nonspecific_findings=(r"peribronchiale? (?:verdickung|zeichnungsvermehrung)(?:en)?",),
    negation_before=(r"kein(?:e|en|er|es|em)?", r"ohne", r"weder", r"frei von", r"fehlende[rns]?", r"negativ f[üu]r",
                     r"nichts"),
    negation_after=(
        r"ausgeschlossen", r"fehlt", r"fehlen", r"negativ(?! f[üu]r)", r"abgeheilt",
        r"r[üu]ckgebildet",
    ),
    negation_either=(r"nicht", r"unwahrscheinlich", r"wenig wahrscheinlich", r"eher nicht"),
    pseudo_negations=(
        r"keine (?:wesentliche |relevante )?(?:befund)?(?:[äa]nderung|ver[äa]nderung)(?:en)?",
        r"ohne (?:wesentliche |relevante )?(?:befund)?[äa]nderung(?:en)?", r"nicht nur", r"kein unterschied",
    ),
    hedge_before=(
        r"m[öo]glich(?:e|er|en|es|em)?", r"m[öo]glicherweise", r"eventuell", r"evtl\.?", r"vielleicht",
        r"fraglich(?:e|er|es|en|em)?", r"verdacht auf", r"v\.\s?a\.?", r"kann", r"k[öo]nnen", r"k[öo]nnte",
        r"k[öo]nnten", r"dd", r"differenzial(?:diagnostisch)?", r"differential(?:diagnostisch)?",
        r"unklar(?:e|er|es|en|em)?", r"grenzwertig\w*", r"versus", r"vs\.?",
    ),
    hedge_after=(r"m[öo]glich", r"fraglich", r"denkbar", r"kann", r"k[öo]nnte", r"k[öo]nnen", r"k[öo]nnten"),
    hedge_either=(
        r"nicht (?:sicher |mit sicherheit |vollst[äa]ndig |ganz |sicher )?" + _AUSSCHLIESSEN,
        r"(?:kann|k[öo]nnen) nicht (?:sicher )?ausgeschlossen werden", r"nicht (?:sicher )?ausgeschlossen",
        r"l[äa]sst sich nicht (?:sicher )?ausschlie(?:ß|ss)en", r"nicht sicher", r"nicht eindeutig",
    ),
    hedge_linking=(r"(?:kann|k[öo]nnte|k[öo]nnen|k[öo]nnten) (?:auf|f[üu]r|einer?m?) (?:\w+ )?(?:hinweisen|"
                   r"sprechen|entsprechen)",),
    call_linking=(
        r"vereinbar mit", r"passend zu", r"verd[äa]chtig auf", r"hinweisend auf", r"spricht f[üu]r",
        r"sprechen f[üu]r", r"am ehesten", r"wahrscheinlich", r"typisch f[üu]r", r"im sinne (?:einer?|von)",
        r"entsprechend",
    ),
    relative_openers=(r"die", r"der", r"das", r"welche[rsmn]?", r"was", r"wobei"),
    interpretation_words=(r"entspr\w*", r"hinweis\w*", r"spricht", r"sprechen", r"bedingt", r"infekt\w*",
                          r"entz[üu]ndlich\w*", r"atelektase\w*", r"aspiration", r"[öo]dem\w*"),
    requests=(r"zum ausschluss", r"ausschluss", r"fragestellung", r"zustand nach", r"z\.\s?n\.?", r"falls", r"ob",
              r"anamnestisch"),
    terminations=(r"aber", r"jedoch", r"allerdings", r"dagegen", r"hingegen", r"sondern", r"w[äa]hrend",
                  r"au(?:ß|ss)er", r"abgesehen von", r"bis auf", r"trotzdem"),
    or_words=(r"oder",),
    nor_words=(r"noch",),
    and_words=(r"und", r"sowie"),
    normal_study=(
        r"normalbefund", r"unauff[äa]llig(?:er|e|es)?(?: befund| thorax| r[öo]ntgen\w*)?",
        r"altersentsprechende?r? befund", r"kein(?:e)? pathologische[rn]? befund(?:e)?", r"regelrechte?r? befund",
        r"ohne pathologischen befund", r"kein akuter befund",
    ),
    lung_words=(r"lunge[n]?", r"lungenfelder?n?", r"lungenparenchym", r"beide lungen"),
    lung_adjectives=(r"pulmonal\w*",),
    chest_words=(r"thorax", r"herz-lungen\w*"),
    normal_words=(r"frei", r"unauff[äa]llig", r"regelrecht\w*", r"normal(?:e|er|es)?", r"gut bel[üu]ftet\w*",
                  r"normal bel[üu]ftet\w*"),
    bare_normal=(r"unauff[äa]llig", r"regelrecht", r"frei", r"ohne befund", r"o\.\s?b\."),
    other_organs=(r"herz\w*", r"mediastin\w*", r"knochen", r"oss[äa]r\w*", r"rippen", r"zwerchfell\w*",
                  r"pleura\w*", r"aorta"),
    partial_normal=(r"ansonsten", r"sonst", r"im [üu]brigen", r"[üu]brige[nr]?", r"restliche[nr]?",
                    r"abgesehen davon"),
    left_words=(r"links", r"linke[nrs]?"),
    right_words=(r"rechts", r"rechte[nrs]?"),
    both_sides_words=(r"beide[nr]?", r"beidseit\w*", r"bilateral\w*"),
    instruction_openers=(r"beschreib(?:e|en sie)", r"untersuche", r"analysiere", r"beurteile", r"bitte"),
    question_openers=(r"gibt es", r"liegt", r"besteht", r"ist", r"sind", r"zeigt", r"findet sich"),
    meta=(r"als ki", r"k[üu]nstliche intelligenz", r"ersetzt keine", r"konsultieren sie", r"[äa]rztliche beratung",
          r"zu informationszwecken"),
    recommendation_openers=(r"empfehl\w*", r"empfohlen", r"verlaufskontrolle", r"kontrolle", r"klinische korrelation",
                            r"weitere abkl[äa]rung", r"sollte"),
    clause_verbs=(r"ist", r"sind", r"zeigt", r"zeigen", r"besteht", r"liegt", r"findet sich", r"es gibt",
                  r"sieht man"),
    abbreviations=(r"z\.b", r"bzw", r"ca", r"v\.a", r"evtl", r"ggf", r"d\.h", r"u\.a"),
    conclusion_headings=(r"schlussfolgerung", r"beurteilung", r"zusammenfassung", r"diagnose", r"fazit", r"eindruck",
                         r"ergebnis"),
    conclusion_openers=(r"zusammenfassend", r"insgesamt", r"fazit", r"somit", r"abschlie(?:ß|ss)end"),
    differential_headings=(r"differen[tz]ialdiagnose(?:n)?",),
    ignored_headings=(r"empfehlung(?:en)?", r"indikation", r"fragestellung", r"anamnese", r"klinische angaben",
                      r"technik", r"hinweis", r"haftungsausschluss"),
    body_headings=(r"befund", r"befunde", r"beschreibung", r"bildbefund"),
    heart_headings=(r"herz", r"herzschatten"),
    answer_markers=(r"endg[üu]ltige\s+antwort", r"finale\s+antwort", r"antwort"),
    pneumonia_tokens=(r"lungenentz[üu]ndung", r"pneumonie"),
    normal_tokens=(r"unauff[äa]llig",),
    uncertain_tokens=(r"unsicher", r"unklar"),
    token_negations=(r"kein[e]?",),
    token_negated_after=(r"ist nicht", r"nicht", r"ausgeschlossen"),
    yes_answers=(r"ja", r"vorhanden", r"positiv", r"nachweisbar"),
    no_answers=(r"nein", r"keine?", r"negativ"),
    unsure_answers=(r"m[öo]glich", r"fraglich", r"unklar"),
    interjections=(r"nein", r"ja"),
)

LANGUAGE = Language(code="de", name="German", prompt_line="Please answer in German.", vocabulary=VOCABULARY, order=5)
