"""Spanish: the label reader on Spanish constructions, and Spanish's entry in the registry.

Negation "no" before the verb ("no se observa", "no hay"), "sin", "ningún", "ausencia de", or after
the finding ("no se observa", "ausente", "descartada"); hedges "posible", "puede / podría", "no se
puede descartar"; calls "sugestivo de", "probable"; "poco probable" is a negation; questions open
with "¿".
"""

from __future__ import annotations

from language_checks import assert_entry, reading_tests

# (text, label, evidence)
NEGATED_EXISTENCE = [
    ("No hay signos de neumonía.", "normal", "No hay signos de neumonía."),
    ("No se observa neumonía.", "normal", "No se observa neumonía."),
    ("No se observan consolidaciones.", "normal", "No se observan consolidaciones."),
    ("No se identifican opacidades alveolares.", "normal", "No se identifican opacidades alveolares."),
    ("No existe consolidación.", "normal", "No existe consolidación."),
    ("Sin evidencia de neumonía.", "normal", "Sin evidencia de neumonía."),
    ("Ausencia de infiltrados.", "normal", "Ausencia de infiltrados."),
    ("Ningún signo de neumonía.", "normal", "Ningún signo de neumonía."),
    ("Pulmones sin consolidación.", "normal", "Pulmones sin consolidación."),
    ("No hay opacidad, que pueda corresponder a neumonía.", "normal",
     "No hay opacidad, que pueda corresponder a neumonía."),
]
NEGATION_AFTER = [
    ("La neumonía no se observa.", "normal", "La neumonía no se observa."),
    ("Neumonía descartada.", "normal", "Neumonía descartada."),
    ("Consolidación ausente.", "normal", "Consolidación ausente."),
    ("Neumonía poco probable.", "normal", "Neumonía poco probable."),
]
ANSWER_LINES = [
    ("Neumonía: no", "normal", "Neumonía: no"),
    ("Neumonía: ausente", "normal", "Neumonía: ausente"),
    ("Neumonía: no se observa", "normal", "Neumonía: no se observa"),
    ("Neumonía: negativa", "normal", "Neumonía: negativa"),
    ("Neumonía: descartada", "normal", "Neumonía: descartada"),
    ("Conclusión: Neumonía: no.", "normal", "Conclusión: Neumonía: no."),
    ("¿Hay neumonía? No.", "normal", "No."),
    ("¿Hay signos de neumonía? No se observan.", "normal", "No se observan."),
    ("Neumonía: sí", "pneumonia", "Neumonía: sí"),
    ("Neumonía: presente", "pneumonia", "Neumonía: presente"),
    ("Neumonía: posible", "uncertain", "Neumonía: posible"),
]
HEDGED_CLAUSES = [
    ("Consolidación en el lóbulo inferior derecho, que podría corresponder a neumonía.", "uncertain",
     "Consolidación en el lóbulo inferior derecho, que podría corresponder a neumonía."),
    ("Opacidad alveolar basal derecha, que puede representar neumonía.", "uncertain",
     "Opacidad alveolar basal derecha, que puede representar neumonía."),
    ("Consolidación basal derecha, posiblemente por neumonía.", "uncertain",
     "Consolidación basal derecha, posiblemente por neumonía."),
    ("Consolidación basal derecha, posiblemente neumónica.", "uncertain",
     "Consolidación basal derecha, posiblemente neumónica."),
]
HEDGES_AND_CALLS = [
    ("Posible neumonía.", "uncertain", "Posible neumonía."),
    ("No se puede descartar neumonía.", "uncertain", "No se puede descartar neumonía."),
    ("No se descarta neumonía.", "uncertain", "No se descarta neumonía."),
    ("Infiltrado dudoso en la base derecha.", "uncertain", "Infiltrado dudoso en la base derecha."),
    ("Hallazgos sugestivos de neumonía.", "pneumonia", "Hallazgos sugestivos de neumonía."),
    ("Neumonía probable.", "pneumonia", "Neumonía probable."),
    ("Consolidación en el lóbulo inferior derecho.", "pneumonia", "Consolidación en el lóbulo inferior derecho."),
]
NORMAL_AND_SECTIONS = [
    ("Pulmones limpios.", "normal", "Pulmones limpios."),
    ("Radiografía de tórax normal.", "normal", "Radiografía de tórax normal."),
    ("**Hallazgos:** Opacidad en la base derecha.\n**Conclusión:** Sin signos de neumonía.", "normal",
     "Conclusión: Sin signos de neumonía."),
    ("No hay derrame, pero sí consolidación basal derecha.", "pneumonia",
     "No hay derrame, pero sí consolidación basal derecha."),
]


test_reading = reading_tests(NEGATED_EXISTENCE, NEGATION_AFTER, ANSWER_LINES,
                             HEDGED_CLAUSES, HEDGES_AND_CALLS, NORMAL_AND_SECTIONS)


def test_entry() -> None:
    assert_entry("es", "Spanish")
