"""German: the label reader on German constructions, and German's entry in the registry.

Negation "kein(e)", "ohne", "frei von", "kein Hinweis auf", and "nicht" late in the clause ("ist
nicht nachweisbar", "lässt sich nicht abgrenzen"); hedges "möglich(erweise)", "fraglich", the
modals "kann / könnte" (verb-final), "nicht auszuschließen"; calls "vereinbar mit", "am ehesten",
"wahrscheinlich"; "unwahrscheinlich" is a negation; relative clauses follow a comma.
"""

from __future__ import annotations

from language_checks import assert_entry, reading_tests

# (text, label, evidence)
NEGATED_EXISTENCE = [
    ("Kein Hinweis auf eine Pneumonie.", "normal", "Kein Hinweis auf eine Pneumonie."),
    ("Kein Nachweis einer Pneumonie.", "normal", "Kein Nachweis einer Pneumonie."),
    ("Kein Anhalt für eine Pneumonie.", "normal", "Kein Anhalt für eine Pneumonie."),
    ("Keine pneumonischen Infiltrate.", "normal", "Keine pneumonischen Infiltrate."),
    ("Es zeigt sich keine Konsolidierung.", "normal", "Es zeigt sich keine Konsolidierung."),
    ("Ohne Hinweis auf Pneumonie.", "normal", "Ohne Hinweis auf Pneumonie."),
    ("Lunge frei von Infiltraten.", "normal", "Lunge frei von Infiltraten."),
    ("Keine Verschattung, die einer Pneumonie entsprechen könnte.", "normal",
     "Keine Verschattung, die einer Pneumonie entsprechen könnte."),
]
NEGATION_AFTER = [
    ("Eine Pneumonie ist nicht nachweisbar.", "normal", "Eine Pneumonie ist nicht nachweisbar."),
    ("Ein Infiltrat lässt sich nicht abgrenzen.", "normal", "Ein Infiltrat lässt sich nicht abgrenzen."),
    ("Pneumonie ausgeschlossen.", "normal", "Pneumonie ausgeschlossen."),
    ("Pneumonie unwahrscheinlich.", "normal", "Pneumonie unwahrscheinlich."),
]
ANSWER_LINES = [
    ("Pneumonie: nicht nachweisbar", "normal", "Pneumonie: nicht nachweisbar"),
    ("Pneumonie: nein", "normal", "Pneumonie: nein"),
    ("Pneumonie: keine", "normal", "Pneumonie: keine"),
    ("Pneumonie: nicht vorhanden", "normal", "Pneumonie: nicht vorhanden"),
    ("Pneumonie: ausgeschlossen", "normal", "Pneumonie: ausgeschlossen"),
    ("Beurteilung: Pneumonie: nicht nachweisbar.", "normal", "Beurteilung: Pneumonie: nicht nachweisbar."),
    ("Gibt es Hinweise auf eine Pneumonie? Nein.", "normal", "Nein."),
    ("Pneumonie: ja", "pneumonia", "Pneumonie: ja"),
    ("Pneumonie: vorhanden", "pneumonia", "Pneumonie: vorhanden"),
    ("Pneumonie: möglich", "uncertain", "Pneumonie: möglich"),
]
HEDGED_CLAUSES = [
    ("Konsolidierung im rechten Unterlappen, die einer Pneumonie entsprechen könnte.", "uncertain",
     "Konsolidierung im rechten Unterlappen, die einer Pneumonie entsprechen könnte."),
    ("Infiltrat im rechten Unterlappen, das einer Pneumonie entsprechen kann.", "uncertain",
     "Infiltrat im rechten Unterlappen, das einer Pneumonie entsprechen kann."),
    ("Konsolidierung rechts basal, möglicherweise pneumonisch.", "uncertain",
     "Konsolidierung rechts basal, möglicherweise pneumonisch."),
    ("Konsolidierung, möglicherweise im Rahmen einer Pneumonie.", "uncertain",
     "Konsolidierung, möglicherweise im Rahmen einer Pneumonie."),
    ("Konsolidierung rechts basal, am ehesten pneumonisch.", "pneumonia",
     "Konsolidierung rechts basal, am ehesten pneumonisch."),
]
HEDGES_AND_CALLS = [
    ("Eine Pneumonie ist nicht auszuschließen.", "uncertain", "Eine Pneumonie ist nicht auszuschließen."),
    ("Eine Pneumonie kann nicht ausgeschlossen werden.", "uncertain",
     "Eine Pneumonie kann nicht ausgeschlossen werden."),
    ("Mögliche Pneumonie.", "uncertain", "Mögliche Pneumonie."),
    ("Pneumonie möglich.", "uncertain", "Pneumonie möglich."),
    ("Fragliches Infiltrat im Unterlappen.", "uncertain", "Fragliches Infiltrat im Unterlappen."),
    ("Infiltrat vereinbar mit Pneumonie.", "pneumonia", "Infiltrat vereinbar mit Pneumonie."),
    ("Pneumonie wahrscheinlich.", "pneumonia", "Pneumonie wahrscheinlich."),
    ("Pneumonie im rechten Unterlappen.", "pneumonia", "Pneumonie im rechten Unterlappen."),
]
NORMAL_AND_SECTIONS = [
    ("Lunge unauffällig.", "normal", "Lunge unauffällig."),
    ("Normalbefund.", "normal", "Normalbefund."),
    ("**Befund:** Verschattung rechts basal.\n**Beurteilung:** Kein Nachweis einer Pneumonie.", "normal",
     "Beurteilung: Kein Nachweis einer Pneumonie."),
    ("Kein Erguss, jedoch Konsolidierung rechts basal.", "pneumonia",
     "Kein Erguss, jedoch Konsolidierung rechts basal."),
]


test_reading = reading_tests(NEGATED_EXISTENCE, NEGATION_AFTER, ANSWER_LINES,
                             HEDGED_CLAUSES, HEDGES_AND_CALLS, NORMAL_AND_SECTIONS)


def test_entry() -> None:
    assert_entry("de", "German")
