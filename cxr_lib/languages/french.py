"""French: the words and constructions the label reader looks for in a French report.

Negation is "ne … pas / aucun / plus" (the cue that carries it is the second part: "pas de", "aucun"),
"sans", "absence de", or after the finding ("n'est pas visible", "absente", "exclue"). Hedges are the
modal "pouvoir" (peut, pourrait, pouvant), "possible", "éventuel", and "ne peut être exclu(e)";
"évocateur de", "en faveur de", "compatible avec" are calls, as "suggestive of" is in English.
Each field is described in :class:`~cxr_lib.languages.vocabulary.Vocabulary`.
"""

from __future__ import annotations

from cxr_lib.languages.registry import Language
from cxr_lib.languages.vocabulary import Vocabulary

_D = r"d(?:e |'|’|u |es )"  # de, d', du, des
_EXCLU = r"(?:exclue?s?|[ée]limin[ée]e?s?|[ée]cart[ée]e?s?)"

VOCABULARY = Vocabulary(
    pneumonia_findings=(
        r"pneumonies?", r"pneumopathies?", r"pneumonites?", r"pneumoniques?", r"(?:broncho|pleuro)-?pneumonies?",
        r"condensations?(?: (?:alv[ée]olaires?|parenchymateuses?|pulmonaires?))?",
        r"foyers? (?:de condensation|infectieux|pneumoniques?|alv[ée]olaires?|de pneumonie)",
        r"opacit[ée]s? (?:alv[ée]olaires?|pneumoniques?|infectieuses?)", r"infiltrats?", r"infiltrations?",
        r"comblements? alv[ée]olaires?", r"syndromes? alv[ée]olaires?", r"infections? (?:pulmonaires?|respiratoires?)",
        r"bronchogrammes? a[ée]riques?",
    ),
    opacity_findings=(r"opacit[ée]s?", r"verre d[ée]poli", r"densit[ée]s?"),
    other_nonspecific_findings=(r"[ée]paississements? p[ée]ribronchiques?",),
    negation_before=(
        r"pas de", r"pas d'", r"pas d’", r"aucune?", r"aucuns?", r"absence d[e'’]", r"sans", r"ni",
        r"ne \w+ (?:pas|plus|aucune?|jamais)", r"n[’']\w+ (?:pas|plus|aucune?|jamais)",
        r"exempts? d[e'’]", r"indemnes? d[e'’]", r"libres? d[e'’]", r"n[ée]gati(?:f|ve)s? pour", r"[ée]limine",
        r"rien", r"jamais",
    ),
    negation_after=(
        r"non visibles?",
        r"non (?:retrouv|visualis|objectiv|identifi|observ|d[ée]cel)[ée]e?s?", r"exclue?s?", r"[ée]cart[ée]e?s?",
        r"r[ée]solue?s?", r"négati(?:f|ve)s?(?! pour)", r"negatifs?",  # "negative" is also English
    ),
    negation_either=(
        r"n[’']est pas", r"ne sont pas", r"n[’']a pas [ée]t[ée] \w+", r"peu probables?", r"improbables?",
        r"peu (?:[ée]vocat(?:eur|rice)s?|suggesti(?:f|ve)s?)", r"absente?s?",
    ),
    pseudo_negations=(
        r"pas de (?:changement|modification|[ée]volution)", r"sans (?:changement|modification)", r"non seulement",
        r"pas seulement", r"sans doute",
    ),
    hedge_before=(
        r"possibles?", r"possiblement", r"probablement pas", r"[ée]ventuel(?:le)?s?", r"peut-[êe]tre",
        r"pourrai(?:t|ent)", r"peu(?:t|vent)", r"pouvant", r"douteu(?:x|se|ses)", r"discutables?", r"[àa] discuter",
        r"ind[ée]termin[ée]e?s?", r"incertaine?s?", r"[ée]quivoques?", r"diagnostic diff[ée]rentiel",
        r"question d[e'’]", r"doute sur",
    ),
    hedge_after=(r"ne peut (?:pas )?[êe]tre " + _EXCLU, r"possibles?", r"[àa] discuter", r"douteu(?:x|se)",
                 r"[àa] confirmer"),
    hedge_either=(
        r"ne (?:peu(?:t|vent)|pourrai(?:t|ent)) (?:pas )?(?:[êe]tre )?(?:formellement |totalement |compl[èe]tement )?"
        + _EXCLU,
        r"(?:on )?ne (?:peut|pourrait) (?:pas )?(?:formellement )?(?:exclure|[ée]liminer|[ée]carter)",
        r"non " + _EXCLU, r"(?:impossible|difficile) (?:d[e'’]|[àa] )(?:exclure|[ée]liminer|[ée]carter)",
        r"sans pouvoir (?:exclure|[ée]liminer|[ée]carter)",
    ),
    hedge_linking=(r"(?:peu(?:t|vent)|pourrai(?:t|ent)|pouvant) (?:correspondre|repr[ée]senter|traduire|[êe]tre|"
                   r"[ée]voquer|refl[ée]ter|s[’']agir)",),
    call_linking=(
        r"suspect(?:e|é)?e? de", r"suspicion d[e'’]", r"compatibles? avec", r"en faveur d[e'’]",
        r"[ée]vocat(?:eur|rice)s? d[e'’]", r"[ée]voquant", r"[ée]voque", r"suggesti(?:f|ve)s? d[e'’]", r"sugg[ée]rant",
        r"sugg[èe]re", r"probables?", r"probablement", r"caract[ée]ristiques? d[e'’]", r"typiques? d[e'’]",
        r"en rapport avec", r"t[ée]moignant d[e'’]",
    ),
    relative_openers=(r"qui", r"ce qui", r"lequel", r"laquelle", r"lesquel(?:le)?s", r"dont"),
    interpretation_words=(
        r"correspond\w*", r"repr[ée]sent\w*", r"tradu\w*", r"en rapport", r"li[ée]e?s? [àa]", r"due?s? [àa]",
        r"infections?", r"infectieu\w*", r"inflammatoires?", r"at[ée]lectasies?", r"inhalation", r"[œo]d[èe]me",
    ),
    requests=(
        r"pour (?:[ée]liminer|exclure|rechercher|[ée]carter)", r"[àa] la recherche " + _D, r"recherche " + _D,
        r"ant[ée]c[ée]dents? " + _D, r"si", r"en cas " + _D, r"suspicion clinique",
    ),
    terminations=(
        r"mais", r"cependant", r"toutefois", r"n[ée]anmoins", r"pourtant", r"en revanche", r"par contre", r"alors que",
        r"tandis que", r"sauf", r"hormis", r"[àa] l[’']exception d[e'’]",
    ),
    or_words=(r"ou", r"ou bien"),
    nor_words=(r"ni",),
    and_words=(r"et",),
    normal_study=(
        r"radiographie (?:thoracique |pulmonaire |du thorax )?normale", r"examen normal", r"thorax normal",
        r"clich[ée] normal", r"sans anomalie(?: (?:notable|significative|d[ée]celable|visible))?",
        r"(?:pas|aucune) d?[’']?anomalie(?: (?:notable|significative|visible|d[ée]celable))?",
        r"dans les limites de la normale",
    ),
    lung_words=(r"poumons?", r"champs pulmonaires", r"parenchyme pulmonaire", r"les deux poumons"),
    lung_adjectives=(r"pulmonaires?",),
    chest_words=(r"thorax", r"thoraciques?"),
    normal_words=(r"clairs?", r"normaux", r"normale?s?", r"bien a[ée]r[ée]s?", r"libres", r"transparents?"),
    bare_normal=(r"normale?", r"sans anomalie", r"rien [àa] signaler", r"ras"),
    other_organs=(
        r"c[œo]ur", r"cardiaques?", r"m[ée]diastin\w*", r"os", r"osseu\w*", r"c[ôo]tes?", r"diaphragmes?",
        r"pl[èe]vres?", r"pleura(?:l|ux|le|les)",
    ),
    partial_normal=(r"sinon", r"par ailleurs", r"le reste", r"reste du", r"ailleurs", r"en dehors d[e'’]"),
    left_words=(r"gauches?",),
    right_words=(r"droites?",),
    both_sides_words=(r"deux", r"bilat[ée]ra\w*", r"des deux c[ôo]t[ée]s"),
    instruction_openers=(r"d[ée]cri(?:vez|s|re)", r"examine[zr]?", r"analyse[zr]?", r"conclue[zr]?", r"indique[zr]?",
                         r"r[ée]pond(?:ez|re)"),
    question_openers=(r"y a-t-il", r"existe-t-il", r"est-ce qu(?:e|['’])", r"peut-on"),
    meta=(r"en tant qu[’'](?:ia|intelligence artificielle|assistant)", r"consulte[zr]? un", r"ne remplace pas",
          r"[àa] titre (?:informatif|indicatif|[ée]ducatif)", r"avis m[ée]dical"),
    recommendation_openers=(r"je recommande", r"il est recommand[ée]", r"recommand\w*", r"suivi", r"contr[ôo]le",
                            r"corr[ée]lation clinique", r"[àa] corr[ée]ler", r"il faut", r"il convient"),
    clause_verbs=(r"est", r"sont", r"il y a", r"montre", r"pr[ée]sente", r"on note", r"on voit", r"appara[îi]t"),
    abbreviations=(r"p\.ex", r"env",),
    conclusion_headings=(r"conclusions?", r"interpr[ée]tation", r"synth[èe]se", r"diagnostic", r"avis"),
    conclusion_openers=(r"en conclusion", r"en r[ée]sum[ée]", r"au total", r"en somme", r"globalement"),
    ignored_headings=(r"recommandations?", r"indications?", r"ant[ée]c[ée]dents", r"contexte clinique", r"remarques?",
                      r"avertissement"),
    body_headings=(r"constatations?", r"r[ée]sultats", r"compte rendu"),
    heart_headings=(r"c[œo]ur", r"silhouette cardiaque"),
    answer_markers=(r"r[ée]ponse\s+finale", r"r[ée]ponse"),
    pneumonia_tokens=(r"pneumonie",),
    normal_tokens=(r"normale",),
    uncertain_tokens=(r"incertaine?",),
    token_negations=(r"pas de", r"sans"),
    token_negated_after=(r"n[’']est pas", r"absente", r"exclue"),
    yes_answers=(r"oui", r"pr[ée]sente?s?", r"positi(?:f|ve)"),
    no_answers=(r"non", r"absente?s?", r"aucune?", r"n[ée]gati(?:f|ve)"),
    unsure_answers=(r"possibles?", r"douteu(?:x|se)", r"incertaine?"),
    interjections=(r"non", r"oui"),
)

LANGUAGE = Language(code="fr", name="French", prompt_line="Please answer in French.", vocabulary=VOCABULARY, order=1)
