"""English: the language prompts are written in, and the reader's fullest vocabulary.

Each field is described in :class:`~cxr_lib.languages.vocabulary.Vocabulary`. Phrases are regular
expressions, matched case-insensitively with word boundaries around them.
"""

from __future__ import annotations

from cxr_lib.languages.registry import Language
from cxr_lib.languages.vocabulary import Vocabulary

_APOS = "[’']"  # straight or curly apostrophe
_AIRSPACE = r"air[- ]?space|alveolar|lobar|pneumonic|pneumonia|infectious|inflammatory"
_LUNG = (r"lungs?", r"lung fields?", r"lung zones?", r"lung parenchyma", r"lung bases",
         r"pulmonary (?:fields?|parenchyma)", r"both lungs", r"parenchyma")
_NOT = rf"(?:not|n{_APOS}t)"

VOCABULARY = Vocabulary(
    sentence_ends=".!?",
    question_marks="?",
    commas=",",
    clause_breaks=";:",
    pneumonia_findings=(
        r"(?:broncho|pleuro)?pneumonias?", r"pneumonic", r"pneumonitis",
        r"consolidat(?:ion|ions|ive|ed|ing)", r"infiltrat(?:e|es|ion|ions|ive)",
        rf"(?:{_AIRSPACE})\s+(?:opacit(?:y|ies)|opacifications?|disease|process|shadowing|filling|changes?)",
        r"(?:lung|chest|pulmonary|lower respiratory(?: tract)?|respiratory tract)\s+infections?",
        r"infectious process", r"air bronchograms?",
    ),
    opacity_findings=(
        r"opacit(?:y|ies)", r"opacifications?", r"opacified", r"hazy", r"haziness", r"densit(?:y|ies)", r"shadowing",
        r"ground[- ]glass", r"abnormalit(?:y|ies)",
    ),
    other_nonspecific_findings=(r"peribronchial (?:thickening|cuffing)",),
    negation_before=(
        r"no", r"not", r"nor", r"neither", r"none", r"without", r"negative for", r"absence of", r"free of", r"clear of",
        r"rules out", r"excludes", r"nothing", r"never", r"rather than", r"instead of", r"resolution of", r"lack of",
        r"lacks?", r"cannot", rf"[a-z]*n{_APOS}t", r"fails? to",
    ),
    negation_after=(
        rf"(?:is|are|was|were|has been|have been|has|have)?\s*{_NOT}(?: been)? (?:be )?(?:seen|identified|"
        r"visuali[sz]ed|present|evident|appreciated|demonstrated|detected|observed|noted|apparent|visible|found|"
        r"shown|suggested|supported)",
        r"excluded", r"ruled out", r"resolved", r"has cleared", r"have cleared", r"negative(?! for)",
    ),
    negation_either=(
        r"unlikely", r"(?:less|not|not very|not particularly) likely", r"doubtful", r"improbable",
        r"not (?:favou?red|suspected)", r"disfavou?red", r"absent",
    ),
    pseudo_negations=(
        r"no (?:significant |interval |appreciable |definite )?(?:change|changes|increase|decrease|"
        r"improvement|resolution|progression)", r"without (?:significant )?change", r"not only",
        r"not necessarily", r"not (?:yet |fully |completely |entirely )?(?:resolved|cleared|improved|changed)",
        r"gram[- ]negative", r"not limited to", r"no longer (?:improving)", r"no doubt", r"not certain (?:if|whether)",
    ),
    hedge_before=(
        r"possible", r"possibly", r"equivocal", r"questionable", r"question of", r"indeterminate", r"uncertain",
        r"unclear", r"borderline", r"may", r"might", r"could", r"perhaps", r"maybe", r"versus", r"vs\.?",
        r"(?:atelectasis|aspiration|edema|scarring) (?:or|and/or|versus|vs\.?)",
        r"differential(?: diagnosis)?(?: includes?| considerations?| of)?", r"consider", r"considered",
        r"cannot be distinguished from",
    ),
    hedge_after=(
        r"(?:is |are )?possible", r"(?:is |are )?questioned", r"questionable", r"may be present", r"versus", r"vs\.?",
        r"or atelectasis", r"and/or atelectasis", r"or aspiration", r"(?:is |are )?uncertain", r"indeterminate",
        r"equivocal",
    ),
    hedge_either=(
        rf"(?:cannot|can ?not|can{_APOS}t|could not|couldn{_APOS}t|unable to|not able to|not possible to|"
        r"impossible to|difficult to|hard to|not easy to)(?: be)?(?: \w+ly)? (?:exclude[ds]?|rule[ds]? out|ruled out)",
        rf"{_NOT}(?: be| been)?(?: \w+ly)? (?:excluded|ruled out)",
    ),
    hedge_linking=(r"(?:may|could|might) (?:represent|reflect|indicate|be due to|be)", r"raising the possibility of"),
    call_linking=(
        r"consistent with", r"compatible with", r"in keeping with", r"indicative of", r"diagnostic of",
        r"characteristic of", r"typical of", r"representing", r"represents?", r"(?:most |more )?likely", r"probable",
        r"probably", r"due to", r"to suggest", r"suspicious (?:for|of)", r"concerning for", r"worrisome for",
        r"suggestive of", r"suggesting", r"suggests?", r"suspicion (?:for|of)", r"suspected", r"favou?r(?:s|ed|ing)?",
    ),
    relative_openers=(r"which", r"that", r"this", r"these", r"what"),
    interpretation_words=(
        r"represent\w*", r"reflect\w*", r"indicat\w*", r"due to", r"related to", r"secondary to", r"caused by",
        r"in keeping", r"infect\w*", r"inflammat\w*", r"atelectasis", r"aspiration", r"edema", r"scarring",
    ),
    requests=(
        r"to (?:rule out|exclude|evaluate for|assess for|look for|check for|screen for|assess|evaluate)", r"rule out",
        r"r/o", r"evaluate for", r"assess for", r"screen(?:ing)? for", r"history of", r"h/o",
        r"clinical (?:suspicion|concern|signs|symptoms)", r"symptoms of", r"risk of", r"if", r"whether", r"in case of",
        r"treat(?:ment|ed)? (?:for|of)", r"antibiotics? (?:for|against)", r"signs and symptoms",
    ),
    terminations=(
        r"but", r"however", r"although", r"though", r"yet", r"except", r"apart from", r"aside from", r"other than",
        r"whereas", r"while", r"nevertheless", r"nonetheless", r"instead", r"and there",
        r"there (?:is|are|appears?|may be|might be)",
    ),
    or_words=(r"or", r"and/or"),
    nor_words=(r"nor",),
    and_words=(r"and",),
    normal_study=(
        r"normal (?:chest |pa |frontal |ap )?(?:x-?rays?|radiographs?|films?|stud(?:y|ies)|"
        r"exam(?:ination)?s?|cxrs?|images?|findings|appearance)",
        r"no acute (?:cardio)?(?:pulmonary|thoracic|chest|intrathoracic|lung) "
        r"(?:process(?:es)?|disease|abnormalit(?:y|ies)|findings?|pathology|issues?|changes?)",
        r"no acute (?:findings?|abnormalit(?:y|ies)|disease|process|pathology|changes?)",
        r"no (?:significant |obvious |definite |radiographic |radiological |visible |acute |active )*"
        r"(?:abnormalit(?:y|ies)|pathology|pathologic findings|findings)(?: (?:is |are )?"
        r"(?:detected|seen|identified|noted|present))?",
        r"(?:chest|study|x-?ray|radiograph|image|examination|exam|film|cxr)"
        r" (?:is|are|appears?|looks?|seems?)(?: to be)?"
        r"(?: entirely| completely| essentially| grossly| radiographically)? "
        r"(?:normal(?!ly)|unremarkable|within normal limits|negative)",
        r"unremarkable (?:chest|study|x-?ray|radiograph|examination|exam|cxr)",
        r"no (?:radiographic |radiological )?(?:evidence|signs?) of (?:acute |active |significant )?"
        r"(?:cardio)?(?:pulmonary |lung |chest )?(?:disease|abnormalit(?:y|ies)|pathology)",
        r"no active (?:lung |pulmonary |chest )?disease", r"nothing abnormal(?: detected| seen)?",
        r"within normal limits",
    ),
    lung_words=_LUNG,
    lung_adjectives=(r"pulmonary",),
    chest_words=(r"chest", r"cardiopulmonary"),
    lung_not_parenchyma=(
        r"volumes?", r"markings?", r"vascular\w*", r"expansion", r"inflation", r"size", r"hila", r"hilar",
        r"apices", r"apex", r"bases",
    ),
    normal_words=(r"clear", r"normal(?!ly)", r"unremarkable", r"within normal limits", r"well[- ]aerated"),
    normal_words_before_lung=(r"clear", r"normal", r"unremarkable"),
    bare_normal=(
        r"normal(?: appearance| study| findings)?", r"clear(?: bilaterally)?", r"unremarkable", r"within normal limits",
        r"wnl", r"negative", r"nad", r"no abnormalit(?:y|ies)(?: (?:seen|detected|noted|identified))?",
        r"nothing abnormal(?: (?:seen|detected))?", r"no significant (?:abnormalit(?:y|ies)|findings?)",
    ),
    bare_subjects=(r"(?:the )?(?:lungs?|chest)",),
    copulas=(r"is", r"are", r"appears?", r"looks?", r"seems?", r"remains?"),
    degree_words=(r"entirely", r"completely", r"essentially", r"grossly", r"overall"),
    other_organs=(
        r"heart", r"cardiac", r"cardiomediastinal", r"mediastin\w*", r"aort\w*", r"hil(?:um|a|ar)", r"bones?",
        r"osseous", r"skeletal", r"ribs?", r"soft tissues?", r"diaphragms?", r"costophrenic", r"pleura", r"pleural",
        r"trachea", r"spine",
    ),
    partial_normal=(
        r"otherwise", r"elsewhere", r"remainder", r"remaining", r"rest of", r"no other", r"other than", r"apart from",
        r"except",
    ),
    left_words=(r"left",),
    right_words=(r"right",),
    both_sides_words=(r"both", r"bilateral(?:ly)?", r"either", r"neither", r"bibasilar", r"bibasal"),
    instruction_openers=(
        r"(?:please\s+)?(?:describe|conclude|examine|analy[sz]e|determine|assess|evaluate|provide|"
        r"generate|identify|state|indicate|list|comment on|report on|look for|check|answer|give|write|"
        r"explain|decide|end with|respond|reply)",
    ),
    question_openers=(
        r"is", r"are", r"does", r"do", r"did", r"was", r"were", r"can", r"could", r"any", r"what", r"which", r"how",
        r"why", r"whether", r"has", r"have",
    ),
    meta=(
        r"as an ai", r"i am an ai", r"i'm an ai", r"language model", r"not a substitute", r"consult (?:a|your|with)",
        r"qualified (?:radiologist|healthcare|medical|physician)", r"healthcare professional",
        r"medical professional", r"informational purposes", r"educational purposes", r"disclaimer",
        r"i cannot provide", r"i can't provide", r"i am not able", r"i'm not able", r"unable to provide",
        r"not (?:a )?medical advice", r"cannot (?:make|give|provide) (?:a )?diagnos\w*",
        r"important to (?:note|remember|consider)", r"keep in mind", r"bear in mind", r"can sometimes",
        r"is a clinical diagnosis", r"in general", r"generally speaking",
    ),
    recommendation_openers=(
        r"(?:i |we )?(?:would )?(?:recommend\w*|it is recommended|consider(?:ing)?|suggest(?:s|ed|ion|ions)?|"
        r"follow[- ]?up|further (?:evaluation|imaging|workup|work-up|assessment|investigation)|"
        r"clinical(?:ly)? correlat\w*|correlat\w+|repeat|should|a follow|treatment|management|"
        r"next steps?|antibiotic\w*|if)",
    ),
    clause_verbs=(
        r"is", r"are", r"was", r"were", r"there", r"shows?", r"showing", r"appears?", r"seen", r"noted",
        r"demonstrates?", r"reveals?", r"has", r"have",
    ),
    abbreviations=(r"vs", r"e\.g", r"i\.e", r"approx", r"dr", r"cf", r"fig", r"incl", r"resp"),
    conclusion_headings=(
        r"impressions?", r"conclusions?", r"conclude", r"concluding", r"diagnos[ie]s", r"summary", r"summari[sz]e",
        r"assessment", r"interpretation", r"opinion", r"final", r"overall", r"verdict", r"bottom line", r"result",
    ),
    conclusion_openers=(
        r"in conclusion", r"in summary", r"to summari[sz]e", r"to conclude", r"in short", r"overall", r"therefore",
        r"thus", r"hence",
        r"based on (?:these|the|this|my) (?:findings|image|images|observations|evaluation|analysis)",
        r"my impression", r"the impression is", r"impression", r"conclusion", r"diagnosis",
    ),
    differential_headings=(r"differentials?", r"differential diagnos[ie]s", r"ddx"),
    ignored_headings=(
        r"recommendations?", r"recommended", r"follow[- ]?up", r"next steps?", r"suggestions?", r"plan", r"management",
        r"indications?", r"clinical (?:history|information|indication)", r"history", r"reason(?: for exam\w*)?",
        r"comparison", r"technique", r"disclaimer", r"notes?", r"limitations?", r"caveats?", r"prompt", r"question",
    ),
    body_headings=(
        r"findings?", r"observations?", r"description", r"anatomical structures?", r"key structures", r"pathological",
        r"pathology", r"image", r"details", r"analysis", r"report",
    ),
    heart_headings=(r"heart", r"cardiac", r"cardiomediastinal", r"mediastinum"),
    answer_markers=(r"final\s+answer", r"answer", r"final\s+label", r"final\s+classification"),
    answer_copulas=(r"is",),
    pneumonia_tokens=(r"pneumonia",),
    normal_tokens=(r"normal",),
    uncertain_tokens=(r"uncertain", r"indeterminate"),
    token_negations=(r"no", r"not", r"non"),
    token_negated_after=(r"(?:is |are |was |were )?(?:not|absent|unlikely|excluded|ruled out|negative)",),
    answer_instructions=(
        r"(?:end|finish|conclude|close|terminate)\w* (?:your |the |its |it )*(?:report|answer|response|output)"
        r" (?:with|by)",
        r"(?:use|write|give|output|add|(?:respond|reply|answer) with) (?:the |a |exactly |one )*"
        r"(?:line|format|following)",
    ),
    yes_answers=(r"yes", r"present", r"positive", r"seen", r"identified", r"detected", r"likely", r"probable"),
    no_answers=(
        r"no", r"none", r"nil", r"absent", r"negative",
        r"not (?:present|seen|identified|detected|visuali[sz]ed|evident|observed|noted)",
        r"unlikely", r"normal", r"clear", r"unremarkable",
    ),
    unsure_answers=(
        r"possible", r"possibly", r"uncertain", r"indeterminate", r"equivocal", r"questionable", r"unclear", r"maybe",
        r"cannot be (?:excluded|ruled out)",
    ),
    interjections=(r"yes", r"no"),
)

LANGUAGE = Language(code="en", name="English", prompt_line="", vocabulary=VOCABULARY, order=0)
