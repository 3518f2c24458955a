"""Report text → label (normal | pneumonia | uncertain) and the sentence that decided it.

The reference analysis read "no obvious signs of pneumonia" as *pneumonia*: it matched a list
of positive phrases that overrode the negative ones. This module reads a report the way a
radiologist would, in four steps, and always says which sentence or line decided:

1. **Fixed final-answer line.** ``Final answer: PNEUMONIA`` / ``NORMAL`` (also ``UNCERTAIN``,
   ``no pneumonia``), tolerant of Markdown, case and punctuation, found anywhere in a line (so
   inside Arabic, French, Spanish, German or Chinese text too), with localised markers
   ("Réponse finale", "Respuesta final", "Endgültige Antwort", "最终答案", "الإجابة النهائية")
   and localised tokens ("pneumonie", "neumonía", "Pneumonie", "肺炎", "正常", …). The last such
   line wins. A line naming both tokens ("PNEUMONIA or NORMAL") echoes the prompt and is skipped;
   a token followed by a negation ("Final answer: pneumonia is not present") is left to step 3.
2. **Markdown → units.** Each line is stripped of markup (headings, bold, list numbers, bullets,
   table pipes, bidirectional marks); see :func:`plain_text`. Lines that are only headings
   (``## Lungs``, ``**3. Conclude if pneumonia opacities are present:**``) are not findings: they
   set the section. An inline label (``Impression: …``, ``Lungs: …``) sets the section and the
   text after it is read. A short answer to a label, heading or question that names a finding
   ("Pneumonia: absent", "Are there pneumonia opacities? No.", a table row "Consolidation | No")
   is read as that answer (rules ``answer-*``). Prompt echoes ("Describe the lungs."), questions,
   recommendations ("Follow-up is recommended to rule out pneumonia"), general caveats and
   disclaimers are skipped, and so are Recommendation / Indication / History / Note sections;
   under a Differential heading an affirmed finding counts as hedged.
3. **Per sentence, NegEx-style.** Each mention of a finding gets a status from the triggers in
   its clause (a clause ends at "but", "however", "although", ";", …):
   *negated* ("no", "without", "no evidence of", "negative for", "absence of", "absent", "free of",
   "rules out", contractions such as "doesn't show", "isn't any", "don't see", "… is not seen",
   "… is not identified", "… absent"), *hedged* ("possible", "may represent", "equivocal",
   "questionable", "versus", "?"), *ignored* ("to rule out", "history of", "if"), or
   *affirmed*. Pseudo-negations ("no change", "not only", "not resolved") are not triggers.
   A negation governs the relational phrases after it ("no opacity **to suggest** pneumonia",
   "no opacity **suggestive of** pneumonia", "no opacity **that could represent** pneumonia" are
   negations).
   **One certainty scale** (the five-step lexicon of Panicek & Hricak, *Radiology* 2016), the same
   for a phrase before or after the finding:

   | certainty | phrases | reading |
   |---|---|---|
   | > 90 %, ≈ 75 % | "consistent with", "compatible with", "diagnostic of"; "likely", "probable", "suspicious for", "suggestive of", "concerning for", "worrisome for", "suspected", "favoured" | a call (*affirmed*) |
   | ≈ 50 % | "possible", "may / could represent", "cannot be (completely) excluded", "not entirely excluded", "difficult to exclude", "cannot rule out", "equivocal", "versus" | *hedged* → uncertain |
   | ≈ 25 %, < 10 % | "less likely", "not likely", "unlikely", "not favoured", "doubtful"; "no", "absent", "not seen" | *negated* |

   The ≈ 50 % phrases that contain a negation or a request ("cannot be completely excluded",
   "difficult to rule out") are found before either, so they never read as a negation or an
   instruction.
   Findings that mean pneumonia (*strong*): pneumonia, pneumonic, bronchopneumonia,
   pneumonitis, consolidation, infiltrate(s), airspace / alveolar / lobar opacity or disease,
   lung or chest infection. Non-specific findings (*weak*): opacity alone, haziness, density,
   ground glass, peribronchial thickening. A weak finding never decides pneumonia; on its own it
   makes the reading uncertain, and "no opacity" counts as a normal statement. Atelectasis,
   effusion and the heart do not vote. Normal statements: "normal chest x-ray", "no acute
   cardiopulmonary process", "lungs are clear", "clear lungs", bare "Normal." under a lungs or
   impression heading. Partial ones ("the left lung is clear", "otherwise normal", "no other
   consolidation") only decide when nothing else does.
   Sentence verdict: affirmed strong → pneumonia; else hedged strong → uncertain; else negated
   finding or normal statement → normal; else partial normal or weak finding (weak votes).
4. **Weighing.** Sentences under an Impression / Conclusion / Diagnosis / Summary / Assessment
   heading (the reference prompt's "3. Conclude …" item included) or starting "In conclusion",
   "Overall", "Therefore" form the *impression* tier; the rest is the *finding* tier. The
   impression tier decides when it says anything firm or hedged; within a tier the last such
   statement wins (a later hedge amends an earlier normal statement and vice versa), except that
   a hedge never takes back an earlier affirmed pneumonia. Only weak votes → partial normals
   give normal, non-specific findings give uncertain. Nothing at all → uncertain
   (``no-statement``).

Non-English text without a final-answer line is read with small keyword lists (French, Spanish,
German, Arabic, Chinese: the word for pneumonia, a few negations, hedges and normal phrases).
That is deliberately simple; expect more ``uncertain`` readings there.

Known limits: a trigger's scope runs to the end of its clause, and over commas only when the
words form a list ("no effusion, pneumothorax, or consolidation"); post-negations look at most
eight words ahead; a heading that names a finding is never read as a
finding, so "**Right lower lobe pneumonia**" alone gives ``uncertain``.

**Cut-off reports.** ``read_report(text, cut_off=True)`` reads a report that hit the token budget.
Its reading stands only when the report had reached its verdict before the cut: a final-answer
line, or a statement in the impression tier. Otherwise the text after the cut could have changed
the call, so the reading is *uncertain* (an abstention) with rule ``cut-off``, keeping the sentence
that would have decided as its evidence.

**Thoughts.** Only the answer is read, never MedGemma 1.5's thought (:mod:`cxr_lib.models.thoughts`):
text that still holds the thought markers (``<unused94>`` … ``<unused95>``) is read without its
thought, and an output that never leaves its thought (``thought_only=True``, or markers with no
answer after them) is *uncertain* with rule ``thought-only`` — a draft "Final answer: PNEUMONIA"
inside a thought is not a call.

:func:`read_report` accepts any string (empty included) and never raises. ``evidence`` is always
a substring of :func:`plain_text` of the input's answer (``""`` when nothing decided).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterator

from cxr_lib.models.thoughts import THOUGHT_END, THOUGHT_ONLY_RULE, THOUGHT_START, split_text

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


# --------------------------------------------------------------------------------------------
# Patterns. Latin/Arabic words get word boundaries; CJK terms (no spaces) get none.


def _alt(words: str | list[str]) -> str:
    """Alternation of ``|``-separated regex phrases with word boundaries around each."""
    items = words.split("|") if isinstance(words, str) else words
    return r"(?<!\w)(?:" + "|".join(items) + r")(?!\w)"


def _cjk(words: str) -> str:
    return "(?:" + words + ")"


def _rx(*parts: str) -> re.Pattern[str]:
    return re.compile("|".join(p for p in parts if p), re.IGNORECASE)


_AIRSPACE = r"air[- ]?space|alveolar|lobar|pneumonic|pneumonia|infectious|inflammatory"
_STRONG = _rx(
    _alt(
        r"(?:broncho|pleuro)?pneumonias?|pneumonic|pneumonitis|"
        r"consolidat(?:ion|ions|ive|ed|ing)|infiltrat(?:e|es|ion|ions|ive)|"
        rf"(?:{_AIRSPACE})\s+(?:opacit(?:y|ies)|opacifications?|disease|process|shadowing|filling|changes?)|"
        r"(?:lung|chest|pulmonary|lower respiratory(?: tract)?|respiratory tract)\s+infections?|"
        r"infectious process|air bronchograms?|"
        # French, Spanish, German, Arabic
        r"pneumonies?|pneumopathies?|neumon[íi]as?|bronconeumon[íi]as?|pneumonien?|"
        r"lungenentz[üu]ndung(?:en)?|konsolidierung(?:en)?|infiltrate?n?|"
        r"(?:ال)?التهاب\s+(?:ال)?رئوي|(?:ال)?تهاب\s+(?:ال)?رئة|ذات\s+الرئة"
    ),
    _cjk("肺炎|实变|實變|浸润|浸潤"),
)
_WEAK = _rx(
    _alt(
        r"opacit(?:y|ies)|opacifications?|opacified|hazy|haziness|densit(?:y|ies)|shadowing|"
        r"ground[- ]glass|peribronchial (?:thickening|cuffing)|"
        r"opacit[ée]s?|opacidad(?:es)?|verschattung(?:en)?|عتامة|عتامات|"
        r"abnormalit(?:y|ies)"
    ),
    _cjk("阴影|陰影|模糊影|磨玻璃"),
)
# Opacity-like weak terms whose negation counts as a normal statement.
_OPACITY_LIKE = re.compile(
    r"opac|haz|densit|shadow|ground|abnormal|verschattung|عتام|阴影|陰影|模糊|磨玻璃", re.I
)

# Pseudo-triggers: contain a negation word but negate nothing.
_PSEUDO = _rx(
    _alt(
        r"no (?:significant |interval |appreciable |definite )?(?:change|changes|increase|decrease|"
        r"improvement|resolution|progression)|without (?:significant )?change|not only|"
        r"not necessarily|not (?:yet |fully |completely |entirely )?(?:resolved|cleared|improved|changed)|"
        r"gram[- ]negative|not limited to|no longer (?:improving)|"
        r"no doubt|not certain (?:if|whether)"
    )
)
# Statements about what to do or what was asked, not about the image.
_REQUEST = _rx(
    _alt(
        r"to (?:rule out|exclude|evaluate for|assess for|look for|check for|screen for|assess|evaluate)|"
        r"rule out|r/o|evaluate for|assess for|screen(?:ing)? for|history of|h/o|"
        r"clinical (?:suspicion|concern|signs|symptoms)|symptoms of|risk of|if|whether|"
        r"in case of|treat(?:ment|ed)? (?:for|of)|antibiotics? (?:for|against)|"
        r"signs and symptoms"
    )
)
# "Cannot be (completely) excluded" and its kin, before or after the finding: found before the
# requests ("to rule out") and negations ("not", "excluded") they contain.
_APOS = "[’']"
_HEDGE_FIXED = _rx(
    _alt(
        rf"(?:cannot|can ?not|can{_APOS}t|could not|couldn{_APOS}t|unable to|not able to|not possible to|"
        r"impossible to|difficult to|hard to|not easy to)(?: be)?(?: \w+ly)? (?:exclude[ds]?|rule[ds]? out|ruled out)|"
        rf"(?:not|n{_APOS}t)(?: be| been)?(?: \w+ly)? (?:excluded|ruled out)"
    )
)
# Hedges that stand on their own ("possible pneumonia").
_HEDGE_PRE = _rx(
    _alt(
        r"possible|possibly|equivocal|questionable|question of|indeterminate|"
        r"uncertain|unclear|borderline|may|might|could|perhaps|maybe|versus|vs\.?|"
        r"(?:atelectasis|aspiration|edema|scarring) (?:or|and/or|versus|vs\.?)|"
        r"differential(?: diagnosis)?(?: includes?| considerations?| of)?|"
        r"consider|considered|cannot be distinguished from|"
        r"posible|posiblemente|possiblement|probablement pas|m[öo]glich(?:e|er|en)?|"
        r"verdacht auf|fraglich(?:e|er)?|لا يمكن استبعاد|ربما|محتمل|محتملة"
    ),
    _cjk("可能|不除外|不能排除|疑似|待排"),
)
# Hedges that relate a noun to a finding ("may represent"): transparent under an earlier negation.
_HEDGE_REL = _rx(
    _alt(r"(?:may|could|might) (?:represent|reflect|indicate|be due to|be)|raising the possibility of")
)
# The certainty scale's "probable" and "consistent with" terms: a call, not a hedge. Transparent
# (they neither negate nor hedge), so "no opacity suggestive of pneumonia" stays a negation.
_POSITIVE_REL = _rx(
    _alt(
        r"consistent with|compatible with|in keeping with|indicative of|diagnostic of|"
        r"characteristic of|typical of|representing|represents?|(?:most |more )?likely|"
        r"probable|probably|due to|to suggest|suspicious (?:for|of)|concerning for|worrisome for|"
        r"suggestive of|suggesting|suggests?|suspicion (?:for|of)|suspected|favou?r(?:s|ed|ing)?|"
        r"sospechos[oa] de|suspect(?:e|é)?e? de"
    )
)
_NEG_PRE = _rx(
    _alt(
        r"no|not|nor|neither|none|without|negative for|absence of|free of|clear of|"
        r"rules out|excludes|"
        r"nothing|never|rather than|instead of|resolution of|lack of|lacks?|cannot|"
        rf"[a-z]*n{_APOS}t|fails? to|"
        r"pas de|pas d'|aucune?|absence d[e']|sans|sin|ningun[oa]?|ningún|ausencia de|no hay|"
        r"kein(?:e|en|er|es)?|ohne|nicht|"
        r"لا|لم|عدم|بدون|غياب|خالية من|خالي من|ليس"
    ),
    _cjk("无|無|未见|未見|没有|沒有|未发现|未發現|排除|未"),
)
# The certainty scale's "less likely" / "unlikely" terms, before or after the finding, and "absent".
_NEG_BOTH = _rx(
    _alt(
        r"unlikely|(?:less|not|not very|not particularly) likely|doubtful|improbable|not (?:favou?red|suspected)|"
        r"disfavou?red|absent"
    )
)
_NEG_POST = _rx(
    _alt(
        rf"(?:is|are|was|were|has been|have been|has|have)?\s*(?:not|n{_APOS}t)(?: been)? (?:be )?(?:seen|identified|visuali[sz]ed|present|"
        r"evident|appreciated|demonstrated|detected|observed|noted|apparent|visible|found|shown|"
        r"suggested|supported)|"
        r"excluded|ruled out|resolved|has cleared|have cleared|negative(?! for)|"
        r"non visible|no visible|n'est pas|ausente|no se observa|nicht nachweisbar|"
        r"ausgeschlossen|nicht vorhanden|غير موجود|غير موجودة"
    )
)
_HEDGE_POST = _rx(
    _alt(
        r"(?:is |are )?possible|(?:is |are )?questioned|questionable|"
        r"may be present|versus|vs\.?|or atelectasis|and/or atelectasis|or aspiration|"
        r"(?:is |are )?uncertain|indeterminate|equivocal|nicht auszuschlie(?:ß|ss)en|"
        r"no se puede descartar|ne peut être exclue?"
    ),
    _cjk("不除外|待排|可能"),
)
_TERMINATION = _rx(
    _alt(
        r"but|however|although|though|yet|except|apart from|aside from|other than|whereas|while|"
        r"nevertheless|nonetheless|instead|and there|there (?:is|are|appears?|may be|might be)|"
        r"mais|cependant|toutefois|pero|sin embargo|aunque|aber|jedoch|allerdings|لكن|ولكن"
    ),
    _cjk("但是|但|然而|不过|不過"),
    r"[;:，；]",
)

_GLOBAL_NORMAL = _rx(
    _alt(
        r"normal (?:chest |pa |frontal |ap )?(?:x-?rays?|radiographs?|films?|stud(?:y|ies)|"
        r"exam(?:ination)?s?|cxrs?|images?|findings|appearance)|"
        r"no acute (?:cardio)?(?:pulmonary|thoracic|chest|intrathoracic|lung) "
        r"(?:process(?:es)?|disease|abnormalit(?:y|ies)|findings?|pathology|issues?|changes?)|"
        r"no acute (?:findings?|abnormalit(?:y|ies)|disease|process|pathology|changes?)|"
        r"no (?:significant |obvious |definite |radiographic |radiological |visible |acute |active )*"
        r"(?:abnormalit(?:y|ies)|pathology|pathologic findings|findings)(?: (?:is |are )?"
        r"(?:detected|seen|identified|noted|present))?|"
        r"(?:chest|study|x-?ray|radiograph|image|examination|exam|film|cxr)"
        r" (?:is|are|appears?|looks?|seems?)(?: to be)?"
        r"(?: entirely| completely| essentially| grossly| radiographically)? "
        r"(?:normal(?!ly)|unremarkable|within normal limits|negative)|"
        r"unremarkable (?:chest|study|x-?ray|radiograph|examination|exam|cxr)|"
        r"no (?:radiographic |radiological )?(?:evidence|signs?) of (?:acute |active |significant )?"
        r"(?:cardio)?(?:pulmonary |lung |chest )?(?:disease|abnormalit(?:y|ies)|pathology)|"
        r"no active (?:lung |pulmonary |chest )?disease|nothing abnormal(?: detected| seen)?|"
        r"within normal limits|"
        r"radiographie (?:thoracique )?normale|radiograf[íi]a (?:de t[óo]rax )?normal|"
        r"normalbefund|unauff[äa]llig(?:er|e|es)?(?: befund| thorax| r[öo]ntgen\w*)?|"
        r"صورة طبيعية|أشعة طبيعية"
    ),
    _cjk("胸片正常|正常胸片|未见异常|未見異常|未见明显异常"),
)
_LUNG_WORD = (
    r"lungs?|lung fields?|lung zones?|lung parenchyma|lung bases|pulmonary (?:fields?|parenchyma)|"
    r"both lungs|parenchyma|poumons?|pulmones|pulm[óo]n|lunge[n]?|الرئتان|الرئتين|الرئة"
)
_NORMAL_WORD = (
    r"clear|normal(?!ly)|unremarkable|within normal limits|well[- ]aerated|clairs?|normaux|"
    r"limpios?|claros?|normales|frei|unauff[äa]llig|طبيعية|طبيعي|سليمة|سليمتين|صافية"
)
_LUNG_NORMAL = _rx(
    r"(?<!\w)(?:" + _LUNG_WORD + r")(?!\w)(?!\W+(?:volumes?|markings?|vascular\w*|expansion|inflation|"
    r"size|hila|hilar|apices|apex|bases))(?:\W+\w+){0,5}?\W+(?:" + _NORMAL_WORD + r")(?!\w)",
    r"(?<!\w)(?:clear|normal|unremarkable)\s+(?:" + _LUNG_WORD + r")(?!\w)",
    _cjk("双肺清晰|两肺清晰|双肺未见异常|肺野清晰|雙肺清晰"),
)
_BARE_NORMAL = re.compile(
    r"^(?:(?:is|are|appears?|looks?|seems?|remains?)\s+)?(?:entirely |completely |essentially |"
    r"grossly |overall )?(?:normal(?: appearance| study| findings)?|clear(?: bilaterally)?|"
    r"unremarkable|within normal limits|wnl|negative|nad|no abnormalit(?:y|ies)(?: (?:seen|detected|"
    r"noted|identified))?|nothing abnormal(?: (?:seen|detected))?|no significant (?:abnormalit(?:y|ies)|"
    r"findings?)|normale?|unauff[äa]llig|طبيعي|طبيعية|正常)$",
    re.IGNORECASE,
)
_OTHER_ORGAN = re.compile(
    r"(?<!\w)(?:heart|cardiac|cardiomediastinal|mediastin\w*|aort\w*|hil(?:um|a|ar)|bones?|osseous|"
    r"skeletal|ribs?|soft tissues?|diaphragms?|costophrenic|pleura|pleural|trachea|spine|"
    r"c[œo]ur|coraz[óo]n|herz\w*|القلب|心脏|心影)(?!\w)",
    re.IGNORECASE,
)
_LUNG_MENTION = re.compile(r"(?<!\w)(?:" + _LUNG_WORD + r"|chest|pulmonary|cardiopulmonary)(?!\w)|肺", re.I)
_PARTIAL = re.compile(
    r"(?<!\w)(?:otherwise|elsewhere|remainder|remaining|rest of|no other|other than|apart from|"
    r"except|sinon|por lo dem[áa]s|ansonsten|sonst)(?!\w)",
    re.IGNORECASE,
)
_LEFT_RIGHT = re.compile(r"(?<!\w)(?:left|right)(?!\w)", re.I)
_BOTH_SIDES = re.compile(r"(?<!\w)(?:both|bilateral(?:ly)?|either|neither|bibasilar|bibasal)(?!\w)", re.I)

# Sentence kinds that are not statements about this image.
_PROMPT_ECHO = re.compile(
    r"^(?:please\s+)?(?:describe|conclude|examine|analy[sz]e|determine|assess|evaluate|provide|"
    r"generate|identify|state|indicate|list|comment on|report on|look for|check|answer|give|write|"
    r"explain|decide|end with|respond|reply)(?!\w)",
    re.IGNORECASE,
)
_INTERROGATIVE = re.compile(
    r"^(?:is|are|does|do|did|was|were|can|could|any|what|which|how|why|whether|has|have)(?!\w)", re.I
)
_META = _rx(
    _alt(
        r"as an ai|i am an ai|i'm an ai|language model|not a substitute|consult (?:a|your|with)|"
        r"qualified (?:radiologist|healthcare|medical|physician)|healthcare professional|"
        r"medical professional|informational purposes|educational purposes|disclaimer|"
        r"i cannot provide|i can't provide|i am not able|i'm not able|unable to provide|"
        r"not (?:a )?medical advice|cannot (?:make|give|provide) (?:a )?diagnos\w*|"
        r"important to (?:note|remember|consider)|keep in mind|bear in mind|can sometimes|"
        r"is a clinical diagnosis|in general|generally speaking"
    )
)
_RECOMMENDATION = re.compile(
    r"^(?:i |we )?(?:would )?(?:recommend\w*|it is recommended|consider(?:ing)?|suggest(?:s|ed|ion|ions)?|"
    r"follow[- ]?up|further (?:evaluation|imaging|workup|work-up|assessment|investigation)|"
    r"clinical(?:ly)? correlat\w*|correlat\w+|repeat|should|a follow|treatment|management|"
    r"next steps?|antibiotic\w*|if)(?!\w)",
    re.IGNORECASE,
)

# Sections by heading keyword.
_SEC_CONCLUSION = _rx(
    _alt(
        r"impressions?|conclusions?|conclude|concluding|diagnos[ie]s|summary|summari[sz]e|"
        r"assessment|interpretation|opinion|final|overall|verdict|bottom line|result|"
        r"conclusi[óo]n|schlussfolgerung|beurteilung|zusammenfassung|diagnose|diagn[óo]stico|"
        r"impresi[óo]n|الخلاصة|الاستنتاج|التشخيص|خلاصة|استنتاج"
    ),
    _cjk("结论|結論|印象|诊断|診斷|总结|總結"),
)
_SEC_DIFFERENTIAL = _rx(_alt(r"differentials?|differential diagnos[ie]s|ddx"))
_SEC_IGNORE = _rx(
    _alt(
        r"recommendations?|recommended|follow[- ]?up|next steps?|suggestions?|plan|management|"
        r"indications?|clinical (?:history|information|indication)|history|reason(?: for exam\w*)?|"
        r"comparison|technique|disclaimer|notes?|limitations?|caveats?|prompt|question|"
        r"empfehlung(?:en)?|recommandations?|recomendaci[óo]n(?:es)?|التوصيات|توصيات|建议|建議"
    )
)
_SEC_BODY = _rx(
    _alt(
        r"findings?|observations?|description|anatomical structures?|key structures|pathological|"
        r"pathology|image|details|analysis|report|constatations?|hallazgos|befund|الموجودات|النتائج"
    ),
    _cjk("所见|所見|表现"),
)
_SEC_HEART = re.compile(r"(?<!\w)(?:heart|cardiac|cardiomediastinal|mediastinum|c[œo]ur|coraz[óo]n|herz|القلب)(?!\w)|心", re.I)
_SEC_LUNGS = re.compile(r"(?<!\w)(?:" + _LUNG_WORD + r"|pulmonary)(?!\w)|肺", re.I)
_INLINE_CONCLUSION = re.compile(
    r"^(?:in conclusion|in summary|to summari[sz]e|to conclude|in short|overall|therefore|thus|hence|"
    r"based on (?:these|the|this|my) (?:findings|image|images|observations|evaluation|analysis)|"
    r"my impression|the impression is|impression|conclusion|diagnosis|en conclusion|en r[ée]sum[ée]|"
    r"en resumen|en conclusi[óo]n|zusammenfassend|insgesamt|في الختام|الخلاصة|总之|综上|總之|綜上)(?!\w)",
    re.IGNORECASE,
)

# Fixed final-answer lines.
_FA_MARKER = (
    r"(?:final\s+answer|answer|final\s+label|final\s+classification|"
    r"r[ée]ponse\s+finale|r[ée]ponse|respuesta\s+final|respuesta|endg[üu]ltige\s+antwort|antwort|"
    r"الإجابة\s+النهائية|الاجابة\s+النهائية|الجواب\s+النهائي|الإجابة|الاجابة)"
)
_FA_MARKER_CJK = r"(?:最终答案|最終答案|答案)"
_FA_PNEUMONIA = (
    r"pneumonia|pneumonie|neumon[íi]a|lungenentz[üu]ndung|肺炎|(?:ال)?التهاب\s+(?:ال)?رئوي|ذات\s+الرئة"
)
_FA_NORMAL = r"normale?|unauff[äa]llig|正常|طبيعي|طبيعية"
_FA_UNCERTAIN = r"uncertain|indeterminate|incertaine?|incierto|unsicher|不确定|غير مؤكد"
_FA_TOKEN = (
    r"(?P<neg>(?:no|not|non|kein[e]?|pas de|sin|无|無|لا)\s*[- ]?\s*)?"
    rf"(?P<tok>{_FA_PNEUMONIA}|{_FA_NORMAL}|{_FA_UNCERTAIN})"
)
_FA_LINE = re.compile(
    r"(?:(?<!\w)" + _FA_MARKER + r"(?!\w)|" + _FA_MARKER_CJK + r")"
    r"\s*(?:\([^)]{0,40}\)\s*)?(?:is\s*)?[:：=\-–—]?\s*(?:is\s*)?[\"'«“\[]?\s*" + _FA_TOKEN + r"(?!\w)",
    re.IGNORECASE,
)
_FA_MARKER_ONLY = re.compile(
    r"^(?:(?<!\w)" + _FA_MARKER + r"|" + _FA_MARKER_CJK + r")\s*[:：=\-–—]?\s*$", re.IGNORECASE
)
_FA_TOKEN_ONLY = re.compile(r"^[\"'«“\[]?\s*" + _FA_TOKEN + r"\s*[\]\"'»”]?[.!。]?$", re.IGNORECASE)
_FA_ECHO_AFTER = re.compile(
    r"^\s*[\]\)\"'»”]?\s*(?:or|/|\||,|oder|ou|o|或|أو|ou bien)\s*[\[\"'«“]?\s*(?:"
    + _FA_PNEUMONIA + "|" + _FA_NORMAL + "|" + _FA_UNCERTAIN + ")",
    re.IGNORECASE,
)
_FA_NEGATED_AFTER = re.compile(
    r"^[\s,:\-–—]*(?:is |are |was |were )?(?:not|absent|unlikely|excluded|ruled out|negative|"
    r"n'est pas|no es|ist nicht|غير)(?!\w)",
    re.IGNORECASE,
)
_FA_INSTRUCTION = re.compile(
    r"(?<!\w)(?:end|finish|conclude|close|terminate)\w* (?:your |the |its |it )*(?:report|answer|response|output)"
    r" (?:with|by)(?!\w)|(?<!\w)(?:use|write|give|output|add|(?:respond|reply|answer) with) (?:the |a |exactly |one )*"
    r"(?:line|format|following)(?!\w)",
    re.IGNORECASE,
)

# Short answers after a label or question that names a finding.
_ANSWER = re.compile(
    r"^(?P<ans>yes|no|none|nil|absent|present|negative|positive|seen|identified|detected|"
    r"not (?:present|seen|identified|detected|visuali[sz]ed|evident|observed|noted)|"
    r"possible|possibly|uncertain|indeterminate|equivocal|questionable|unclear|maybe|"
    r"cannot be (?:excluded|ruled out)|likely|probable|unlikely|normal|clear|unremarkable|"
    r"oui|non|s[íi]|nein|ja|keine?|نعم|لا|是|否|有|无|未见)(?!\w)[\s.!,;:]*",
    re.IGNORECASE,
)
_ANSWER_VALUES = {
    "pneumonia": r"yes|present|positive|seen|identified|detected|likely|probable|oui|s[íi]|ja|نعم|是|有",
    "normal": r"no|none|nil|absent|negative|not .*|unlikely|normal|clear|unremarkable|non|nein|keine?|لا|否|无|未见",
    "uncertain": r"possible|possibly|uncertain|indeterminate|equivocal|questionable|unclear|maybe|cannot .*",
}

_INTERJECTIONS = r"yes|no|non|nein|ja|oui|s[íi]|نعم|لا"

# Markup.
_INVISIBLE = re.compile(r"[\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff\u00ad]")
_LIST_MARKER = re.compile(
    r"^(?:>\s*)*(?:#{1,6}\s+|#{1,6}$)?(?:(?:[-*+•·▪◦‣–—]|\d{1,3}[.)](?!\d)|\(\d{1,3}\)|[a-zA-Z][.)](?=\s)|"
    r"[ivxIVX]{1,4}[.)](?=\s))\s*)*"
)
_EMPHASIS = re.compile(r"\*\*|__|~~|`+|(?<!\w)[*_]+(?=\S)|(?<=\S)[*_]+(?!\w)")
_LINK = re.compile(r"!?\[([^\]\n]{0,200})\]\([^)\n]{0,500}\)")
_HEADING_LINE = re.compile(r"^\s{0,3}(?:>\s*)*#{1,6}(?:\s|$)")
_BOLD_LINE = re.compile(r"^\s*(?:[-*+]\s+|\d{1,3}[.)]\s+)?(\*\*|__)(?P<inner>.+?)\1\s*[:：]?\s*$")
_TABLE_ROW = re.compile(r"^\s*\|(?P<cells>.*)\|\s*$")
_LABEL = re.compile(r"^(?P<label>[^:：.!?;]{1,80}?)\s*(?:[:：]|\s[–—|]\s)\s*(?P<value>.*)$")
_SENTENCE_END = re.compile(r"[.!?]+(?=\s)|[。！？]+|[.!?]+$")
_ABBREVIATIONS = re.compile(r"(?:\b(?:vs|e\.g|i\.e|approx|dr|cf|fig|incl|resp)|\b[a-z])\.$", re.I)
_LETTER = re.compile(r"[^\W\d_]")


# --------------------------------------------------------------------------------------------
# Markup stripping.


def _clean_line(raw: str) -> str:
    line = _INVISIBLE.sub("", raw)
    line = _LINK.sub(r"\1", line)
    table = _TABLE_ROW.match(line)
    if table:
        cells = [c.strip() for c in table.group("cells").split("|")]
        line = " | ".join(c for c in cells if c)
    line = _EMPHASIS.sub("", line)
    line = _LIST_MARKER.sub("", line.strip(), count=1)
    return line.strip()


def plain_lines(text: str) -> list[str]:
    """The report's lines without Markdown markup (headings, emphasis, bullets, list numbers)."""
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    return [_clean_line(raw) for raw in text.splitlines()]


def plain_text(text: str) -> str:
    """The report without Markdown markup; every :class:`Reading` evidence is a substring of it."""
    return "\n".join(plain_lines(text))


# --------------------------------------------------------------------------------------------
# Step 1: the fixed final-answer line.


def _final_labels(line: str) -> list[str] | None:
    """Labels of the final-answer tokens in a line, in order; None when the line echoes the prompt."""
    if _FA_INSTRUCTION.search(line):
        return None  # "End your report with 'Final answer: PNEUMONIA' or …" is the prompt
    labels = []
    for match in _FA_LINE.finditer(line):
        rest = line[match.end():]
        if _FA_ECHO_AFTER.match(rest):
            return None  # "Final answer: PNEUMONIA or NORMAL" lists the options
        label = _token_label(match.group("tok"), match.group("neg"))
        if label == "pneumonia" and _FA_NEGATED_AFTER.match(rest):
            continue  # "Final answer: pneumonia is not present" is read as a sentence
        labels.append(label)
    return None if len(set(labels)) > 1 else labels  # two different answers: the options again


def _final_token(line: str) -> str | None:
    """The label a final-answer line gives, or None."""
    labels = None if _PROMPT_ECHO.match(line) else _final_labels(line)
    return labels[-1] if labels else None


def _token_label(token: str, negated: str | None) -> str:
    if re.fullmatch(_FA_UNCERTAIN, token, re.IGNORECASE):
        return "uncertain"
    is_pneumonia = re.fullmatch(_FA_PNEUMONIA, token, re.IGNORECASE) is not None
    if negated:
        return "normal" if is_pneumonia else "uncertain"
    return "pneumonia" if is_pneumonia else "normal"


def _final_answer(lines: list[str]) -> Reading | None:
    found: Reading | None = None
    for i, line in enumerate(lines):
        label = _final_token(line)
        if label is not None:
            found = Reading(label, line, "final-answer")
            continue
        if _FA_MARKER_ONLY.match(line):
            nxt = next((ln for ln in lines[i + 1:] if ln.strip()), "")
            token = _FA_TOKEN_ONLY.match(nxt.strip())
            if token:
                found = Reading(_token_label(token.group("tok"), token.group("neg")), nxt.strip(), "final-answer")
    return found


# --------------------------------------------------------------------------------------------
# Step 2: units (sentences with their section).


@dataclass
class _Section:
    kind: str = "body"  # body | conclusion | ignore | differential
    subject: str = ""  # lungs | heart | "" (unknown)


@dataclass
class _Unit:
    text: str
    section: _Section
    tier: str  # "impression" | "finding"
    label: str = ""  # the inline label or heading this text answers, if any
    line: str = ""  # the label with this sentence (evidence for "Pneumonia: absent" pairs)
    evidence: str = ""  # what to quote when this unit decides


def _section_of(heading: str, current: _Section, numbered_or_heading: bool) -> _Section:
    if _SEC_DIFFERENTIAL.search(heading):
        return _Section("differential", "")
    if _SEC_CONCLUSION.search(heading):
        return _Section("conclusion", "")
    if _SEC_IGNORE.search(heading) and not _STRONG.search(heading):
        return _Section("ignore", "")
    if _SEC_HEART.search(heading) and not _SEC_LUNGS.search(heading):
        return _Section("body", "heart")
    if _SEC_LUNGS.search(heading):
        return _Section("body", "lungs")
    if numbered_or_heading or _SEC_BODY.search(heading):
        return _Section("body", "")
    return current


def _is_section_name(label: str) -> bool:
    """Whether a short label names a report section (Impression, Findings, Lungs, …)."""
    if len(label.split()) > 4:
        return False
    return any(p.search(label) for p in (_SEC_CONCLUSION, _SEC_BODY, _SEC_IGNORE, _SEC_DIFFERENTIAL,
                                          _SEC_HEART, _SEC_LUNGS))


_CLAUSE_VERB = re.compile(
    r"(?<!\w)(?:is|are|was|were|there|shows?|showing|appears?|seen|noted|demonstrates?|reveals?|has|have)(?!\w)",
    re.IGNORECASE,
)


def _looks_like_label(label: str) -> bool:
    """A label ("Lungs", "Pneumonia opacities", "Conclude if … present"), not a clause ("There is X")."""
    label = label.strip()
    if len(label.split()) > 10:
        return False
    if _is_section_name(label) or _PROMPT_ECHO.match(label) or _INTERROGATIVE.match(label):
        return True
    return len(label.split()) <= 6 and not _CLAUSE_VERB.search(label)


def _says_normal_or_hedged(line: str) -> bool:
    """Whether a heading-like line is really a statement ("**No acute findings**", "## Possible pneumonia")."""
    verdict = _classify(line, "", False)
    return verdict is not None and verdict[1] in ("negated", "normal", "hedged")


def _split_sentences(line: str) -> list[str]:
    out, start = [], 0
    for match in _SENTENCE_END.finditer(line):
        piece = line[start:match.end()]
        if match.group().startswith(".") and _ABBREVIATIONS.search(piece.rstrip()):
            continue
        if piece.strip():
            out.append(piece.strip())
        start = match.end()
    if line[start:].strip():
        out.append(line[start:].strip())
    return out


def _units(raw_lines: list[str], lines: list[str]) -> Iterator[_Unit]:
    section = _Section()
    for raw, line in zip(raw_lines, lines):
        if not _LETTER.search(line) or _final_labels(line) is None:
            continue  # empty, a rule, or the prompt's own instruction about the answer line
        raw_clean = _INVISIBLE.sub("", raw)
        is_md_heading = bool(_HEADING_LINE.match(raw_clean))
        bold = _BOLD_LINE.match(raw_clean)
        is_numbered = bool(re.match(r"^\s*(?:\*\*|__)?\s*\d{1,3}[.)]\s", raw_clean))
        short_bold = bold is not None and len(line.split()) <= 8 and not line.rstrip().endswith(".")
        heading_only = line.rstrip().endswith((":", "：")) or (
            (is_md_heading or short_bold) and not _says_normal_or_hedged(line)
        )
        label_match = _LABEL.match(line)
        if heading_only and not (label_match and label_match.group("value").strip()):
            section = _section_of(line, section, True)
            yield _Unit("", section, "", label=line.rstrip(":： "), line=line)  # marks a heading
            continue
        label, value = "", line
        if label_match and label_match.group("value").strip() and _looks_like_label(label_match.group("label")):
            label, value = label_match.group("label").strip(), label_match.group("value").strip()
            section = _section_of(label, section, is_numbered or is_md_heading)
        for sentence in _split_sentences(value):
            quoted = sentence
            inline = _LABEL.match(sentence) if not label else None
            if inline and inline.group("value").strip() and _is_section_name(inline.group("label")):
                # "… No effusion. IMPRESSION: Normal." — a section label in mid-line
                label, sentence = inline.group("label").strip(), inline.group("value").strip()
                section = _section_of(label, section, True)
            elif label:
                quoted = line[: line.index(sentence) + len(sentence)]
            tier = "impression" if section.kind == "conclusion" or _INLINE_CONCLUSION.match(sentence) else "finding"
            evidence = quoted if label and len(sentence.split()) <= 4 else sentence  # quote "Lungs: clear." whole
            yield _Unit(sentence, section, tier, label=label, line=quoted, evidence=evidence)
            label = ""  # only the first sentence answers the label


# --------------------------------------------------------------------------------------------
# Step 3: one sentence → a vote.


@dataclass(frozen=True)
class _Vote:
    label: str
    kind: str  # positive | negated | normal | hedged | partial-normal | nonspecific
    evidence: str
    tier: str
    answer: bool = False

    @property
    def weak(self) -> bool:
        return self.kind in ("partial-normal", "nonspecific")


def _find_triggers(sentence: str) -> dict[str, list[tuple[int, int]]]:
    """Trigger spans by category; earlier categories mask later ones (pseudo before negation)."""
    work = sentence
    found: dict[str, list[tuple[int, int]]] = {}
    for name, pattern in (
        ("pseudo", _PSEUDO),
        ("hedge_fixed", _HEDGE_FIXED),
        ("request", _REQUEST),
        ("hedge_post", _HEDGE_POST),
        ("neg_both", _NEG_BOTH),
        ("hedge_rel", _HEDGE_REL),
        ("hedge", _HEDGE_PRE),
        ("positive", _POSITIVE_REL),
        ("neg_post", _NEG_POST),
        ("neg", _NEG_PRE),
    ):
        spans = [m.span() for m in pattern.finditer(work) if m.end() > m.start()]
        found[name] = spans
        if name == "hedge_post":
            continue  # "possible" after a finding is also "possible" before the next one
        for s, e in spans:
            work = work[:s] + " " * (e - s) + work[e:]
    found["term"] = [m.span() for m in _TERMINATION.finditer(sentence)]
    return found


_COMMA = re.compile(r"[,，、]")
_LIST_CONJUNCTION = re.compile(r"(?<!\w)(?:or|nor|and|and/or|ou|ni|o|oder|noch|et|y|e|أو|و)(?!\w)|[或及和]", re.I)
_LIST_CONTINUES = re.compile(r"^[^,，;.]*?[,，]?\s*(?:or|nor|and/or|ou|ni|o|oder|noch|أو)(?!\w)|^\s*[或及]", re.I)


def _reaches(between: str, after: str) -> bool:
    """Whether a trigger's scope runs over ``between`` to the mention.

    A comma ends it unless the words form a list: "no effusion, pneumothorax, or consolidation"
    (a conjunction before the mention, or "… consolidation or edema" after it); "no effusion,
    consolidation in the right lower lobe" starts a new clause.
    """
    if not _COMMA.search(between):
        return True
    return bool(_LIST_CONJUNCTION.search(between) or _LIST_CONTINUES.match(after))


def _status(sentence: str, start: int, end: int, trig: dict[str, list[tuple[int, int]]]) -> str:
    """affirmed | negated | hedged | ignored for the mention sentence[start:end]."""
    clause_start = max((e for s, e in trig["term"] if e <= start), default=0)
    clause_end = min((s for s, e in trig["term"] if s >= end), default=len(sentence))

    def before(name: str) -> list[int]:
        return [
            s for s, e in trig[name]
            if s >= clause_start and e <= start and _reaches(sentence[e:start], sentence[end:clause_end])
        ]

    negs, hedges = before("neg") + before("neg_both"), before("hedge") + before("hedge_fixed")
    rels, requests = before("hedge_rel"), before("request")
    last_neg = max(negs, default=-1)
    last_hedge = max(hedges, default=-1)
    last_req = max(requests, default=-1)
    if last_req > max(last_neg, last_hedge):
        return "ignored"
    if last_neg >= 0 and last_neg > last_hedge:
        return "negated"  # a negation governs the relational hedges after it
    if last_hedge >= 0 or rels:
        return "hedged"

    def after(name: str) -> list[int]:
        hits = []
        for s, _ in trig[name]:
            between = sentence[end:s]
            if end <= s <= clause_end and len(re.findall(r"\w+", between)) <= 8 and _reaches(between, ""):
                hits.append(s)
        return hits

    post_hedge, post_neg = after("hedge_post") + after("hedge_fixed"), after("neg_post") + after("neg_both")
    if post_hedge and (not post_neg or min(post_hedge) <= min(post_neg)):
        return "hedged"
    if post_neg:
        return "negated"
    question = re.match(r"\s*\?", sentence[end:])
    if question or re.search(r"\?\s*$", sentence[:start]):
        return "hedged"
    return "affirmed"


def _mentions(sentence: str) -> list[tuple[int, int, bool]]:
    strong = [(m.start(), m.end(), True) for m in _STRONG.finditer(sentence)]
    weak = [
        (m.start(), m.end(), False)
        for m in _WEAK.finditer(sentence)
        if not any(s < m.end() and m.start() < e for s, e, _ in strong)
    ]
    return strong + weak


def _is_partial(sentence: str) -> bool:
    if _PARTIAL.search(sentence):
        return True
    return bool(_LEFT_RIGHT.search(sentence)) and not _BOTH_SIDES.search(sentence) and not (
        re.search(r"(?<!\w)left(?!\w)", sentence, re.I) and re.search(r"(?<!\w)right(?!\w)", sentence, re.I)
    )


def _normal_statement(sentence: str, subject: str) -> bool:
    """Whether the sentence says the lungs or the whole study are normal."""
    for match in _LUNG_NORMAL.finditer(sentence):
        if not _NEG_PRE.search(match.group()) or re.search(r"free of|clear of", match.group(), re.I):
            return True
    match = _GLOBAL_NORMAL.search(sentence)
    if match:
        about_other = _OTHER_ORGAN.search(sentence) and not _LUNG_MENTION.search(sentence)
        if not about_other:
            return True
    bare = re.sub(r"[\s.!。,;]+$", "", sentence).strip()
    bare = re.sub(r"^(?:the )?(?:lungs?|chest)\s+", "", bare, flags=re.I)
    return bool(_BARE_NORMAL.match(bare)) and subject in ("lungs", "conclusion", "")


def _classify(sentence: str, subject: str, differential: bool) -> tuple[str, str] | None:
    """(label, kind) for one sentence, or None when it says nothing about pneumonia."""
    trig = _find_triggers(sentence)
    strong_status, weak_status = [], []
    for start, end, strong in _mentions(sentence):
        status = _status(sentence, start, end, trig)
        if differential and status == "affirmed":
            status = "hedged"
        (strong_status if strong else weak_status).append((status, sentence[start:end]))
    partial = _is_partial(sentence)
    if any(s == "affirmed" for s, _ in strong_status):
        return "pneumonia", "positive"
    if any(s == "hedged" for s, _ in strong_status):
        return "uncertain", "hedged"
    negated_opacity = any(s == "negated" and _OPACITY_LIKE.search(t) for s, t in weak_status)
    if any(s == "negated" for s, _ in strong_status) or negated_opacity:
        return ("normal", "partial-normal") if partial else ("normal", "negated")
    if not any(s == "affirmed" for s, _ in weak_status) and _normal_statement(sentence, subject):
        return ("normal", "partial-normal") if partial else ("normal", "normal")
    if any(s in ("affirmed", "hedged") for s, _ in weak_status):
        return "uncertain", "nonspecific"
    return None


def _answer_vote(label: str, value: str) -> str | None:
    """The label a short answer ("No.", "Present") gives to a label or question naming a finding."""
    match = _ANSWER.match(value)
    if not match or not (_STRONG.search(label) or _WEAK.search(label)):
        return None
    answer = match.group("ans")
    following = value[len(answer):].lstrip()
    if re.fullmatch(_INTERJECTIONS, answer, re.IGNORECASE) and following and following[0].isalnum():
        return None  # "No effusion, but …" is a sentence, not the answer "No."
    for result, words in _ANSWER_VALUES.items():
        if re.fullmatch(words, answer, re.IGNORECASE):
            if result == "pneumonia" and not _STRONG.search(label):
                return "uncertain"  # "Opacity: present" is non-specific
            return result
    return None


def _skip(sentence: str) -> bool:
    return bool(
        _PROMPT_ECHO.match(sentence)
        or _META.search(sentence)
        or _RECOMMENDATION.match(sentence)
        or (sentence.rstrip().endswith("?") and _INTERROGATIVE.match(sentence))
    )


def _votes(raw_lines: list[str], lines: list[str]) -> list[_Vote]:
    votes: list[_Vote] = []
    pending_question = ""  # a heading or question naming a finding, awaiting "Yes." / "No."
    for unit in _units(raw_lines, lines):
        if not unit.text:  # a heading line
            pending_question = unit.label if (_STRONG.search(unit.label) or _WEAK.search(unit.label)) else ""
            continue
        if unit.section.kind == "ignore":
            pending_question = ""
            continue
        sentence = unit.text
        tier = unit.tier
        question = unit.label or pending_question
        answered = _answer_vote(question, sentence) if question else None
        if answered:
            evidence = unit.line if unit.label else sentence
            kind = {"pneumonia": "positive", "normal": "negated", "uncertain": "hedged"}[answered]
            votes.append(_Vote(answered, kind, evidence, tier, answer=True))
            pending_question = ""
            continue
        pending_question = ""
        if sentence.rstrip().endswith("?") and _INTERROGATIVE.match(sentence):
            if _STRONG.search(sentence) or _WEAK.search(sentence):
                pending_question = sentence
            continue
        if _skip(sentence):
            continue
        body = re.sub(r"^(?:yes|no)\s*[,.;:!]\s*", lambda m: " " * len(m.group()), sentence, flags=re.I)
        subject = "conclusion" if tier == "impression" else unit.section.subject
        verdict = _classify(body, subject, unit.section.kind == "differential")
        if verdict:
            votes.append(_Vote(verdict[0], verdict[1], unit.evidence or sentence, tier))
    return votes


# --------------------------------------------------------------------------------------------
# Step 4: weighing the votes.


def _rule(vote: _Vote) -> str:
    if vote.weak:
        return "partial-normal" if vote.kind == "partial-normal" else "nonspecific-finding"
    kind = vote.kind
    if vote.answer:
        return f"answer-{kind}"
    return f"{vote.tier}-{kind}"


def _decide_tier(votes: list[_Vote]) -> _Vote | None:
    decided: _Vote | None = None
    for vote in votes:
        if vote.weak:
            continue
        if vote.kind == "hedged" and decided is not None and decided.label == "pneumonia":
            continue  # a hedge does not take back an affirmed pneumonia
        decided = vote
    return decided


def read_report(text: str, cut_off: bool = False, thought_only: bool = False) -> Reading:
    """Read a free-text report (Markdown allowed, any language) into a :class:`Reading`.

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
    raw_lines = text.splitlines()
    lines = [_clean_line(raw) for raw in raw_lines]
    final = _final_answer(lines)
    if final is not None:
        return final, True
    votes = _votes(raw_lines, lines)
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


# --------------------------------------------------------------------------------------------
# Showing the evidence in the report it came from.


def evidence_span(text: str, evidence: str | None) -> tuple[int, int] | None:
    """Where ``evidence`` (a sentence of :func:`plain_text`) is in the report ``text``: verbatim, else
    word for word ignoring markup between the words; ``None`` when it is not there (or empty)."""
    if not evidence:
        return None
    start = text.find(evidence)
    if start >= 0:
        return start, start + len(evidence)
    words = re.findall(r"\w+", evidence)
    if not words:
        return None
    match = re.search(r"[\W_]*".join(map(re.escape, words)), text)
    return match.span() if match else None


def highlight(text: str, evidence: str | None, label: str | None) -> list[tuple[str, str | None]]:
    """The report as consecutive ``(segment, tag)`` pieces that join back into ``text``: the evidence
    sentence tagged with ``label``, the rest with ``None`` (no piece when ``text`` is empty)."""
    span = evidence_span(text, evidence)
    if span is None:
        return [(text, None)] if text else []
    start, end = span
    parts = [(text[:start], None), (text[start:end], label), (text[end:], None)]
    return [(segment, tag) for segment, tag in parts if segment]
