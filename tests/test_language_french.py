"""French: the label reader on French constructions, and French's entry in the registry.

Negation "ne … pas / aucun", "pas de", "sans", "absence de", or after the finding ("n'est pas
visible", "absente", "exclue"); hedges "possible", "peut / pourrait / pouvant", "ne peut être
exclu(e)"; calls "évocateur de", "probable"; "peu probable" is a negation.
"""

from __future__ import annotations

from language_checks import assert_entry, reading_tests

# (text, label, evidence)
NEGATED_EXISTENCE = [
    ("Pas de signe de pneumonie.", "normal", "Pas de signe de pneumonie."),
    ("Il n'y a pas de pneumonie.", "normal", "Il n'y a pas de pneumonie."),
    ("Pas d'argument pour une pneumonie.", "normal", "Pas d'argument pour une pneumonie."),
    ("Absence de foyer de condensation.", "normal", "Absence de foyer de condensation."),
    ("Aucun signe de pneumonie.", "normal", "Aucun signe de pneumonie."),
    ("Aucune opacité alvéolaire.", "normal", "Aucune opacité alvéolaire."),
    ("Poumons sans condensation.", "normal", "Poumons sans condensation."),
    ("La radiographie ne montre pas de pneumonie.", "normal", "La radiographie ne montre pas de pneumonie."),
    ("On ne retrouve aucun foyer pneumonique.", "normal", "On ne retrouve aucun foyer pneumonique."),
    ("Il n'est pas observé de pneumonie.", "normal", "Il n'est pas observé de pneumonie."),
    ("Il n'existe pas de condensation parenchymateuse.", "normal", "Il n'existe pas de condensation parenchymateuse."),
    ("Pas d'opacité, qui pourrait correspondre à une pneumonie.", "normal",
     "Pas d'opacité, qui pourrait correspondre à une pneumonie."),
]
NEGATION_AFTER = [
    ("La pneumonie n'est pas visible.", "normal", "La pneumonie n'est pas visible."),
    ("Pneumonie exclue.", "normal", "Pneumonie exclue."),
    ("Condensation absente.", "normal", "Condensation absente."),
    ("Pneumonie peu probable.", "normal", "Pneumonie peu probable."),
]
ANSWER_LINES = [
    ("Pneumonie : absente", "normal", "Pneumonie : absente"),
    ("Pneumonie : non", "normal", "Pneumonie : non"),
    ("Pneumonie : non visible", "normal", "Pneumonie : non visible"),
    ("Pneumonie : pas de signe", "normal", "Pneumonie : pas de signe"),
    ("Pneumonie : exclue", "normal", "Pneumonie : exclue"),
    ("Conclusion : Pneumonie : absente.", "normal", "Conclusion : Pneumonie : absente."),
    ("Y a-t-il une pneumonie ? Non.", "normal", "Non."),
    ("Pneumonie : présente", "pneumonia", "Pneumonie : présente"),
    ("Pneumonie : oui", "pneumonia", "Pneumonie : oui"),
    ("Pneumonie : possible", "uncertain", "Pneumonie : possible"),
]
HEDGED_CLAUSES = [
    ("Condensation du lobe inférieur droit, pouvant correspondre à une pneumonie.", "uncertain",
     "Condensation du lobe inférieur droit, pouvant correspondre à une pneumonie."),
    ("Opacité alvéolaire basale droite, qui pourrait représenter une pneumonie.", "uncertain",
     "Opacité alvéolaire basale droite, qui pourrait représenter une pneumonie."),
    ("Foyer de condensation basal droit, possiblement infectieux.", "uncertain",
     "Foyer de condensation basal droit, possiblement infectieux."),
    ("Foyer de condensation, pouvant évoquer une pneumonie.", "uncertain",
     "Foyer de condensation, pouvant évoquer une pneumonie."),
]
HEDGES_AND_CALLS = [
    ("Pneumonie possible.", "uncertain", "Pneumonie possible."),
    ("Éventuelle pneumonie débutante.", "uncertain", "Éventuelle pneumonie débutante."),
    ("Une pneumonie ne peut être exclue.", "uncertain", "Une pneumonie ne peut être exclue."),
    ("Une pneumonie ne peut pas être exclue.", "uncertain", "Une pneumonie ne peut pas être exclue."),
    ("On ne peut exclure une pneumonie.", "uncertain", "On ne peut exclure une pneumonie."),
    ("Condensation basale droite évocatrice de pneumonie.", "pneumonia",
     "Condensation basale droite évocatrice de pneumonie."),
    ("Pneumonie probable.", "pneumonia", "Pneumonie probable."),
    ("Pneumonie du lobe inférieur droit.", "pneumonia", "Pneumonie du lobe inférieur droit."),
    ("Foyer de condensation lobaire inférieur droit.", "pneumonia", "Foyer de condensation lobaire inférieur droit."),
]
NORMAL_AND_SECTIONS = [
    ("Poumons clairs.", "normal", "Poumons clairs."),
    ("Radiographie thoracique normale.", "normal", "Radiographie thoracique normale."),
    ("**Constatations :** Opacité alvéolaire basale droite.\n**Conclusion :** Pas de pneumonie.", "normal",
     "Conclusion : Pas de pneumonie."),
    ("Pas d'épanchement, mais une condensation basale droite.", "pneumonia",
     "Pas d'épanchement, mais une condensation basale droite."),
]


test_reading = reading_tests(NEGATED_EXISTENCE, NEGATION_AFTER, ANSWER_LINES,
                             HEDGED_CLAUSES, HEDGES_AND_CALLS, NORMAL_AND_SECTIONS)


def test_entry() -> None:
    assert_entry("fr", "French")
