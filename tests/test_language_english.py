"""English: the label reader on English constructions, and English's entry in the registry.

The wider English suite (scope, pseudo-negations, Markdown, whole reports) is tests/test_labels.py;
these are the constructions every language's file covers: negated existence, answer lines whose
answer is a negation, hedging clauses after a finding, hedges and negations either side, calls.
"""

from __future__ import annotations

from language_checks import assert_entry, reading_tests

# (text, label, evidence)
NEGATED_EXISTENCE = [
    ("There is no evidence of pneumonia.", "normal", "There is no evidence of pneumonia."),
    ("There are no signs of consolidation.", "normal", "There are no signs of consolidation."),
    ("No radiographic evidence of pneumonia is seen.", "normal", "No radiographic evidence of pneumonia is seen."),
    ("The radiograph does not show any infiltrate.", "normal", "The radiograph does not show any infiltrate."),
    ("Without airspace opacity.", "normal", "Without airspace opacity."),
    ("There is no opacity, which could represent pneumonia.", "normal",
     "There is no opacity, which could represent pneumonia."),
]
ANSWER_LINES = [
    ("Pneumonia: not seen", "normal", "Pneumonia: not seen"),
    ("Pneumonia: absent", "normal", "Pneumonia: absent"),
    ("Pneumonia — none", "normal", "Pneumonia — none"),
    ("Pneumonia: negative", "normal", "Pneumonia: negative"),
    ("Pneumonia: not visible", "normal", "Pneumonia: not visible"),
    ("Pneumonia: excluded", "normal", "Pneumonia: excluded"),
    ("Pneumonia: no evidence.", "normal", "Pneumonia: no evidence."),
    ("Pneumonia: there is none", "normal", "Pneumonia: there is none"),
    ("Impression: Pneumonia: not seen.", "normal", "Impression: Pneumonia: not seen."),
    ("The lungs are expanded. Pneumonia: not seen.", "normal", "Pneumonia: not seen."),
    ("Pneumonia? Not seen.", "normal", "Not seen."),
    ("Pneumonia: present", "pneumonia", "Pneumonia: present"),
    ("Pneumonia: yes", "pneumonia", "Pneumonia: yes"),
    ("Pneumonia: likely", "pneumonia", "Pneumonia: likely"),
    ("Pneumonia: possible", "uncertain", "Pneumonia: possible"),
    ("Pneumonia: not excluded", "uncertain", "Pneumonia: not excluded"),
    ("Pneumonia: to rule out", "uncertain", ""),  # a request, not an answer
    ("Pneumonia?", "uncertain", "Pneumonia?"),  # a question nothing answers stays a question
]
HEDGED_CLAUSES = [
    ("There is right lower lobe airspace disease, which may represent atelectasis or pneumonia.", "uncertain",
     "There is right lower lobe airspace disease, which may represent atelectasis or pneumonia."),
    ("Right lower lobe consolidation, which could be pneumonia.", "uncertain",
     "Right lower lobe consolidation, which could be pneumonia."),
    ("Patchy consolidation, possibly reflecting infection.", "uncertain",
     "Patchy consolidation, possibly reflecting infection."),
    ("Left basilar consolidation that may represent pneumonia.", "uncertain",
     "Left basilar consolidation that may represent pneumonia."),
    ("Consolidation at the right base may represent pneumonia.", "uncertain",
     "Consolidation at the right base may represent pneumonia."),
    ("Right lower lobe consolidation, with air bronchograms, which may represent pneumonia.", "uncertain",
     "Right lower lobe consolidation, with air bronchograms, which may represent pneumonia."),
    ("IMPRESSION: Right lower lobe airspace disease, which may represent atelectasis or pneumonia.", "uncertain",
     "Right lower lobe airspace disease, which may represent atelectasis or pneumonia."),
    ("There is consolidation at the right base. This may represent pneumonia.", "uncertain",
     "This may represent pneumonia."),
    # a call in the clause keeps the finding a call; a hedge about something else does not hedge it
    ("Consolidation, which likely represents pneumonia.", "pneumonia",
     "Consolidation, which likely represents pneumonia."),
    ("Right lower lobe consolidation, possible small effusion.", "pneumonia",
     "Right lower lobe consolidation, possible small effusion."),
    ("Right lower lobe consolidation and a small effusion that may be loculated.", "pneumonia",
     "Right lower lobe consolidation and a small effusion that may be loculated."),
]
HEDGES_AND_CALLS = [
    ("Pneumonia cannot be excluded.", "uncertain", "Pneumonia cannot be excluded."),
    ("The findings could represent early pneumonia.", "uncertain", "The findings could represent early pneumonia."),
    ("Possible early pneumonia.", "uncertain", "Possible early pneumonia."),
    ("Findings are suggestive of pneumonia.", "pneumonia", "Findings are suggestive of pneumonia."),
    ("Pneumonia is unlikely.", "normal", "Pneumonia is unlikely."),
    ("Pneumonia is not seen.", "normal", "Pneumonia is not seen."),
    ("Right lower lobe pneumonia.", "pneumonia", "Right lower lobe pneumonia."),
    ("The lungs are clear.", "normal", "The lungs are clear."),
]


test_reading = reading_tests(NEGATED_EXISTENCE, ANSWER_LINES, HEDGED_CLAUSES, HEDGES_AND_CALLS)


def test_entry() -> None:
    assert_entry("en", "English")
