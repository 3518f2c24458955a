"""Spanish: the words and constructions the label reader looks for in a Spanish report.

Negation is "no" before the verb ("no se observa neumonía", "no hay"), "sin", "ningún/ninguna",
"ausencia de", or after the finding ("la neumonía no se observa", "ausente", "descartada"). Hedges
are "posible", the modal "poder" (puede, podría) and "no se puede descartar"; "sugestivo de",
"compatible con" and "probable" are calls, as in English. Questions may open with "¿".
Each field is described in :class:`~cxr_lib.languages.vocabulary.Vocabulary`.
"""

from __future__ import annotations

from cxr_lib.languages.registry import Language
from cxr_lib.languages.vocabulary import Vocabulary

_SEEN = r"(?:observa|identifica|aprecia|visualiza|evidencia|ve|detecta|demuestra|objetiva)n?"

VOCABULARY = Vocabulary(
    opening_marks="¿¡",
    pneumonia_findings=(
        r"neumon[íi]as?", r"bronconeumon[íi]as?", r"neumonitis", r"neum[óo]nic[oa]s?", r"consolidaci[óo]n(?:es)?",
        r"consolidad[oa]s?",
        r"infiltrados?", r"infiltraci[óo]n(?:es)?", r"condensaci[óo]n(?:es)?", r"opacidad(?:es)? alveolar(?:es)?",
        r"ocupaci[óo]n (?:del )?espacio a[ée]reo", r"enfermedad del espacio a[ée]reo",
        r"infecci[óo]n (?:pulmonar|respiratoria)", r"(?:foco|proceso) neum[óo]nico", r"broncogramas? a[ée]reos?",
    ),
    opacity_findings=(r"opacidad(?:es)?", r"densidad(?:es)?", r"vidrio (?:esmerilado|deslustrado)"),
    other_nonspecific_findings=(r"engrosamiento peribronquial",),
    negation_before=(
        r"sin", r"ningun[oa]?", r"ningún", r"ausencia de", r"no hay", r"no existe", r"no existen",
        r"libres? de", r"negativ[oa] para", r"nada", r"ni", r"tampoco", r"falta de", r"se descarta",
    ),
    negation_after=(
        r"no visibles?", r"ausentes?", r"descartad[oa]s?", r"no presentes?", r"no evidentes?",
        r"no demostrables?", r"resuelt[oa]s?", r"negativ[oa]s?(?! para)",
    ),
    negation_either=(r"no se " + _SEEN, r"poco probables?", r"improbables?", r"poco sugestiv[oa]s?"),
    pseudo_negations=(r"sin cambios?", r"no s[óo]lo", r"no ha cambiado", r"sin variaci[óo]n(?:es)?"),
    hedge_before=(
        r"posibles?", r"posiblemente", r"quiz[áa]s?", r"tal vez", r"dudos[oa]s?", r"puede", r"pueden", r"pueda",
        r"puedan", r"pudiera",
        r"podr[íi]an?", r"indeterminad[oa]s?", r"equ[íi]voc[oa]s?", r"inciert[oa]s?", r"diagn[óo]stico diferencial",
        r"versus", r"vs\.?",
    ),
    hedge_after=(r"no se puede descartar", r"posibles?", r"a descartar", r"por descartar", r"dudos[oa]s?"),
    hedge_either=(
        r"no se (?:puede|pueden|debe|deben|pudo) descartar", r"no (?:puede|pueden) descartarse", r"no se descarta",
        r"no descartables?", r"no es posible descartar", r"dif[íi]cil de descartar", r"sin poder descartar",
    ),
    hedge_linking=(r"(?:puede|pueden|pueda|puedan|pudiera|podr[íi]an?) (?:corresponder|representar|deberse|ser|"
                   r"indicar|reflejar|tratarse)",),
    call_linking=(
        r"sospechos[oa]s? de", r"sospecha de", r"compatibles? con", r"sugestiv[oa]s? de", r"sugerentes? de",
        r"sugiere", r"sugieren", r"indicativ[oa]s? de", r"(?:en )?probable relaci[óo]n con", r"en relaci[óo]n con",
        r"probables?", r"probablemente", r"caracter[íi]stic[oa]s? de", r"t[íi]pic[oa]s? de", r"consistentes? con",
    ),
    relative_openers=(r"que", r"lo que", r"lo cual", r"el cual", r"la cual", r"los cuales", r"las cuales"),
    interpretation_words=(
        r"correspond\w*", r"represent\w*", r"deber\w*", r"debid[oa]s? a", r"por", r"relacionad[oa]s? con",
        r"en relaci[óo]n", r"infecci[óo]n", r"infeccios[oa]s?", r"inflamatori[oa]s?", r"atelectasias?",
        r"aspiraci[óo]n", r"edema",
    ),
    requests=(r"para (?:descartar|evaluar|valorar|excluir)", r"antecedentes? de", r"historia de", r"si",
              r"en caso de", r"sospecha cl[íi]nica"),
    terminations=(r"pero", r"sin embargo", r"aunque", r"no obstante", r"excepto", r"salvo", r"mientras que",
                  r"aparte de"),
    or_words=(r"o", r"u"),
    nor_words=(r"ni",),
    and_words=(r"y", r"e"),
    normal_study=(
        r"radiograf[íi]a (?:de t[óo]rax )?normal", r"estudio normal", r"t[óo]rax normal",
        r"sin hallazgos (?:patol[óo]gicos|significativos|relevantes)", r"sin alteraciones(?: significativas)?",
        r"dentro de (?:los )?l[íi]mites normales",
    ),
    lung_words=(r"pulmones", r"pulm[óo]n", r"campos pulmonares", r"par[ée]nquima pulmonar", r"ambos pulmones"),
    lung_adjectives=(r"pulmonar(?:es)?",),
    chest_words=(r"t[óo]rax", r"tor[áa]cic[oa]s?"),
    normal_words=(r"limpios?", r"claros?", r"normales", r"bien aireados?", r"conservados?"),
    bare_normal=(r"normal", r"sin alteraciones", r"sin hallazgos", r"dentro de la normalidad"),
    other_organs=(r"coraz[óo]n", r"card[íi]ac[oa]s?", r"mediastino", r"huesos?", r"costillas?", r"diafragmas?",
                  r"pleuras?", r"silueta card[íi]aca"),
    partial_normal=(r"por lo dem[áa]s", r"el resto", r"restantes?"),
    left_words=(r"izquierd[oa]s?",),
    right_words=(r"derech[oa]s?",),
    both_sides_words=(r"ambos", r"ambas", r"bilateral(?:es|mente)?"),
    instruction_openers=(r"describ[ae]", r"examin[ae]", r"analic[ae]", r"concluy[ae]", r"indique", r"responda"),
    question_openers=(r"hay", r"existe", r"se observa", r"presenta", r"tiene"),
    meta=(r"como (?:modelo de lenguaje|ia|inteligencia artificial)", r"consulte (?:a|con)", r"no sustituye",
          r"fines (?:educativos|informativos)"),
    recommendation_openers=(r"se recomienda", r"recomiendo", r"recomendamos", r"sugiero", r"seguimiento",
                            r"correlaci[óo]n cl[íi]nica"),
    clause_verbs=(r"es", r"son", r"est[áa]n?", r"hay", r"se observan?", r"muestran?", r"presentan?"),
    abbreviations=(r"p\.ej", r"aprox", r"dra"),
    conclusion_headings=(r"conclusi[óo]n(?:es)?", r"diagn[óo]stico", r"impresi[óo]n(?: diagn[óo]stica)?",
                         r"resumen", r"valoraci[óo]n", r"interpretaci[óo]n"),
    conclusion_openers=(r"en resumen", r"en conclusi[óo]n", r"en definitiva", r"por lo tanto"),
    ignored_headings=(r"recomendaci[óo]n(?:es)?", r"indicaci[óo]n(?:es)?", r"antecedentes", r"historia cl[íi]nica",
                      r"t[ée]cnica", r"limitaciones"),
    body_headings=(r"hallazgos", r"descripci[óo]n", r"informe", r"observaciones"),
    heart_headings=(r"coraz[óo]n", r"silueta card[íi]aca"),
    answer_markers=(r"respuesta\s+final", r"respuesta"),
    pneumonia_tokens=(r"neumon[íi]a",),
    uncertain_tokens=(r"inciert[oa]", r"indeterminad[oa]"),
    token_negations=(r"sin",),
    token_negated_after=(r"no es", r"no est[áa]", r"ausente", r"descartad[oa]"),
    yes_answers=(r"s[íi]", r"presentes?", r"positiv[oa]"),
    no_answers=(r"ningun[oa]", r"ausentes?", r"negativ[oa]"),
    unsure_answers=(r"posibles?", r"dudos[oa]", r"inciert[oa]"),
    interjections=(r"s[íi]",),
)

LANGUAGE = Language(code="es", name="Spanish", prompt_line="Please answer in Spanish.", vocabulary=VOCABULARY, order=2)
