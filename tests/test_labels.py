"""Tests for cxr_lib.analysis.labels: report text → label + the sentence that decided it.

Each case asserts the label AND the evidence, so a right label reached for the wrong reason fails.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings, strategies as st

from cxr_lib.analysis.labels import LABELS, RULES, Reading, evidence_span, highlight, plain_text, read_report

REPORTS = Path(__file__).parent / "data" / "reports"

# (text, label, evidence). Evidence is the exact deciding sentence or line, markup stripped.
SENTENCES = [
    # The reference analysis's failure case, and other negations with scope.
    ("No obvious signs of pneumonia.", "normal", "No obvious signs of pneumonia."),
    ("There are no obvious signs of pneumonia opacities.", "normal", "There are no obvious signs of pneumonia opacities."),
    ("There is no evidence of pneumonia.", "normal", "There is no evidence of pneumonia."),
    ("The lungs are clear without consolidation.", "normal", "The lungs are clear without consolidation."),
    ("Negative for pneumonia.", "normal", "Negative for pneumonia."),
    ("Absence of airspace disease.", "normal", "Absence of airspace disease."),
    ("Lung fields free of infiltrates.", "normal", "Lung fields free of infiltrates."),
    ("Consolidation is not seen.", "normal", "Consolidation is not seen."),
    ("No focal consolidation could be identified.", "normal", "No focal consolidation could be identified."),
    ("No pleural effusion, pneumothorax, or focal consolidation.", "normal",
     "No pleural effusion, pneumothorax, or focal consolidation."),
    ("Nothing to suggest pneumonia.", "normal", "Nothing to suggest pneumonia."),
    ("No opacity suspicious for pneumonia.", "normal", "No opacity suspicious for pneumonia."),
    ("This rules out lobar pneumonia.", "normal", "This rules out lobar pneumonia."),
    ("Pneumonia is unlikely.", "normal", "Pneumonia is unlikely."),
    ("The opacity represents atelectasis rather than pneumonia.", "normal",
     "The opacity represents atelectasis rather than pneumonia."),
    ("No focal opacity.", "normal", "No focal opacity."),
    # Negation scope ends at "but", "however", ";".
    ("No effusion, but right lower lobe consolidation.", "pneumonia",
     "No effusion, but right lower lobe consolidation."),
    ("No effusion, consolidation in the right lower lobe.", "pneumonia",
     "No effusion, consolidation in the right lower lobe."),
    ("Right lower lobe consolidation, effusion absent.", "pneumonia", "Right lower lobe consolidation, effusion absent."),
    ("Consolidation, effusion and pneumothorax are not seen.", "normal",
     "Consolidation, effusion and pneumothorax are not seen."),
    ("No effusion, pneumothorax, consolidation or edema.", "normal", "No effusion, pneumothorax, consolidation or edema."),
    ("No pneumothorax; dense consolidation in the left lower lobe.", "pneumonia",
     "No pneumothorax; dense consolidation in the left lower lobe."),
    ("There is no effusion, however patchy infiltrates are seen at both bases.", "pneumonia",
     "There is no effusion, however patchy infiltrates are seen at both bases."),
    # Pseudo-negations negate nothing.
    ("No change in the right lower lobe consolidation.", "pneumonia",
     "No change in the right lower lobe consolidation."),
    ("The pneumonia has not resolved.", "pneumonia", "The pneumonia has not resolved."),
    ("Not only consolidation but also a small effusion is present.", "pneumonia",
     "Not only consolidation but also a small effusion is present."),
    # Positive findings and calls.
    ("Right lower lobe pneumonia.", "pneumonia", "Right lower lobe pneumonia."),
    ("Findings are consistent with bronchopneumonia.", "pneumonia", "Findings are consistent with bronchopneumonia."),
    ("There is a left lower lobe airspace opacity.", "pneumonia", "There is a left lower lobe airspace opacity."),
    ("Bilateral perihilar infiltrates.", "pneumonia", "Bilateral perihilar infiltrates."),
    ("Likely pneumonia in the right middle lobe.", "pneumonia", "Likely pneumonia in the right middle lobe."),
    ("Opacity most likely representing pneumonia.", "pneumonia", "Opacity most likely representing pneumonia."),
    # Hedges.
    ("Pneumonia cannot be excluded.", "uncertain", "Pneumonia cannot be excluded."),
    ("Cannot exclude early pneumonia.", "uncertain", "Cannot exclude early pneumonia."),
    ("An infiltrate cannot be ruled out.", "uncertain", "An infiltrate cannot be ruled out."),
    ("Possible right lower lobe consolidation.", "uncertain", "Possible right lower lobe consolidation."),
    ("The opacity may represent pneumonia.", "uncertain", "The opacity may represent pneumonia."),
    ("Suspicious for pneumonia.", "pneumonia", "Suspicious for pneumonia."),
    ("Equivocal left basilar consolidation.", "uncertain", "Equivocal left basilar consolidation."),
    ("Atelectasis versus pneumonia at the left base.", "uncertain", "Atelectasis versus pneumonia at the left base."),
    ("Questionable infiltrate in the lingula.", "uncertain", "Questionable infiltrate in the lingula."),
    # Normal statements.
    ("Normal chest X-ray.", "normal", "Normal chest X-ray."),
    ("No acute cardiopulmonary process.", "normal", "No acute cardiopulmonary process."),
    ("The lungs are clear.", "normal", "The lungs are clear."),
    ("Clear lungs bilaterally.", "normal", "Clear lungs bilaterally."),
    ("The study is within normal limits.", "normal", "The study is within normal limits."),
    # Non-specific findings do not decide pneumonia.
    ("Patchy opacity in the right lower zone.", "uncertain", "Patchy opacity in the right lower zone."),
    ("Mild perihilar haziness without consolidation.", "normal", "Mild perihilar haziness without consolidation."),
    # Contractions negate like their long forms.
    ("The X-ray doesn't show pneumonia.", "normal", "The X-ray doesn't show pneumonia."),
    ("There isn't any consolidation.", "normal", "There isn't any consolidation."),
    ("I don't see consolidation.", "normal", "I don't see consolidation."),
    ("There aren't any infiltrates.", "normal", "There aren't any infiltrates."),
    ("We can't see any pneumonia.", "normal", "We can't see any pneumonia."),
    ("The lungs don’t show any consolidation.", "normal", "The lungs don’t show any consolidation."),
    ("Pneumonia isn't seen.", "normal", "Pneumonia isn't seen."),
    ("Consolidation hasn't been identified.", "normal", "Consolidation hasn't been identified."),
    # "X is not seen / identified", "absent X", "X absent".
    ("Pneumonia is not seen.", "normal", "Pneumonia is not seen."),
    ("Consolidation is not identified.", "normal", "Consolidation is not identified."),
    ("Absent pneumonia.", "normal", "Absent pneumonia."),
    ("Absent focal consolidation.", "normal", "Absent focal consolidation."),
    ("Consolidation absent.", "normal", "Consolidation absent."),
    # The certainty scale: ≈ 25 % or less is a negation, before or after the finding.
    ("Pneumonia is not likely.", "normal", "Pneumonia is not likely."),
    ("Pneumonia less likely.", "normal", "Pneumonia less likely."),
    ("Less likely pneumonia.", "normal", "Less likely pneumonia."),
    ("Mild peribronchial thickening; pneumonia is not favored.", "normal",
     "Mild peribronchial thickening; pneumonia is not favored."),
    ("Pneumonia is not favoured.", "normal", "Pneumonia is not favoured."),
    ("Pneumonia is doubtful.", "normal", "Pneumonia is doubtful."),
    # ≈ 50 %: uncertain, however much negation the phrase holds.
    ("Pneumonia cannot be completely excluded.", "uncertain", "Pneumonia cannot be completely excluded."),
    ("Early pneumonia is not entirely excluded.", "uncertain", "Early pneumonia is not entirely excluded."),
    ("Pneumonia is not completely ruled out.", "uncertain", "Pneumonia is not completely ruled out."),
    ("Pneumonia can't be entirely excluded.", "uncertain", "Pneumonia can't be entirely excluded."),
    ("Superimposed pneumonia is difficult to exclude.", "uncertain", "Superimposed pneumonia is difficult to exclude."),
    ("It is difficult to exclude superimposed pneumonia.", "uncertain",
     "It is difficult to exclude superimposed pneumonia."),
    ("It is difficult to definitively rule out pneumonia.", "uncertain",
     "It is difficult to definitively rule out pneumonia."),
    ("Cannot rule out pneumonia.", "uncertain", "Cannot rule out pneumonia."),
    ("The findings may be consistent with pneumonia.", "uncertain", "The findings may be consistent with pneumonia."),
    ("Pneumonia is excluded.", "normal", "Pneumonia is excluded."),
    # ≈ 75 % and above: a call, whichever word says it.
    ("Findings are suggestive of pneumonia.", "pneumonia", "Findings are suggestive of pneumonia."),
    ("Right basilar opacity concerning for consolidation.", "pneumonia",
     "Right basilar opacity concerning for consolidation."),
    ("Findings are worrisome for pneumonia.", "pneumonia", "Findings are worrisome for pneumonia."),
    ("Pneumonia is suspected.", "pneumonia", "Pneumonia is suspected."),
    ("Pneumonia is favored.", "pneumonia", "Pneumonia is favored."),
    ("Pneumonia is probable.", "pneumonia", "Pneumonia is probable."),
    ("No opacity suggestive of pneumonia.", "normal", "No opacity suggestive of pneumonia."),
    ("There are no clear opacities that would strongly suggest pneumonia.", "normal",
     "There are no clear opacities that would strongly suggest pneumonia."),
    # Nothing about the lungs.
    ("The heart is normal in size.", "uncertain", ""),
    ("Heart size within normal limits.", "uncertain", ""),
    ("Mild bibasilar atelectasis.", "uncertain", ""),
    ("", "uncertain", ""),
    # Not statements about the image: recommendations, history, questions, prompt echoes, disclaimers.
    ("Follow-up radiograph is recommended to rule out pneumonia.", "uncertain", ""),
    ("The patient has a history of pneumonia.", "uncertain", ""),
    ("Are pneumonia opacities present?", "uncertain", ""),
    ("Examine this chest X-ray. 1. Describe the lungs. 2. Describe the heart. "
     "3. Conclude if pneumonia opacities are present.", "uncertain", ""),
    ("Please consult a qualified radiologist to confirm or rule out pneumonia.", "uncertain", ""),
]


@pytest.mark.parametrize(("text", "label", "evidence"), SENTENCES)
def test_sentence(text: str, label: str, evidence: str) -> None:
    reading = read_report(text)
    assert (reading.label, reading.evidence) == (label, evidence), reading


# Whole (short) reports: Markdown, sections, final lines, other languages.
REPORTS_INLINE = [
    # A fixed final line wins over the body, whatever the markup.
    ("Possible subtle opacity at the right base.\n\n**Final Answer:** **PNEUMONIA**", "pneumonia",
     "Final Answer: PNEUMONIA"),
    ("The lungs are clear.\nfinal answer - normal.", "normal", "final answer - normal."),
    ("Final answer: NORMAL\n\nOn reflection, consolidation is present.\nFinal answer: PNEUMONIA", "pneumonia",
     "Final answer: PNEUMONIA"),
    ("**Final answer:**\nNORMAL", "normal", "NORMAL"),
    ("Final answer: no pneumonia", "normal", "Final answer: no pneumonia"),
    ("Final answer: UNCERTAIN", "uncertain", "Final answer: UNCERTAIN"),
    # Non-English text with the English token.
    ("الرئتان صافيتان.\nالإجابة النهائية: **NORMAL**", "normal", "الإجابة النهائية: NORMAL"),
    ("Opacité alvéolaire du lobe inférieur droit.\nRéponse finale : PNEUMONIA", "pneumonia",
     "Réponse finale : PNEUMONIA"),
    ("Los pulmones están limpios.\nRespuesta final: NORMAL", "normal", "Respuesta final: NORMAL"),
    ("右下肺野斑片影。\n最终答案：PNEUMONIA", "pneumonia", "最终答案：PNEUMONIA"),
    ("Kein Infiltrat.\nEndgültige Antwort: NORMAL", "normal", "Endgültige Antwort: NORMAL"),
    # The prompt's own instruction is not an answer; a negated token is read as a sentence.
    ("End your report with 'Final answer: PNEUMONIA' or 'Final answer: NORMAL'.\nThe lungs are clear.",
     "normal", "The lungs are clear."),
    ("Final answer: PNEUMONIA or NORMAL\nRight lower lobe consolidation.", "pneumonia",
     "Right lower lobe consolidation."),
    ("Final answer: pneumonia is not present.", "normal", "Final answer: pneumonia is not present."),
    ("Final answer: PNEUMONIA or NORMAL", "uncertain", ""),
    ("Answer with exactly one line: Final answer: PNEUMONIA", "uncertain", ""),
    # A colon inside a sentence is not a label; a section label in mid-line is.
    ("There is a small opacity: probably atelectasis.", "uncertain", "There is a small opacity: probably atelectasis."),
    ("PA chest radiograph. No effusion. IMPRESSION: Normal.", "normal", "IMPRESSION: Normal."),
    ("I conclude with high confidence that there is no pneumonia.", "normal",
     "I conclude with high confidence that there is no pneumonia."),
    # General caveats are not findings.
    ("The lungs are clear.\nIt is important to note that pneumonia can sometimes be subtle and may not be visible.",
     "normal", "The lungs are clear."),
    ("The lungs appear clear, but there may be a subtle opacity that could represent early pneumonia.", "uncertain",
     "The lungs appear clear, but there may be a subtle opacity that could represent early pneumonia."),
    # Headings that echo the prompt are not findings.
    ("**3. Conclude if pneumonia opacities are present:**\nNo pneumonia opacities are present.", "normal",
     "No pneumonia opacities are present."),
    ("## Pneumonia opacities\n- Not present.", "normal", "Not present."),
    ("### Pneumonia\nThe lungs are clear.", "normal", "The lungs are clear."),
    ("**Pneumonia opacities**", "uncertain", ""),
    ("**No acute cardiopulmonary process**", "normal", "No acute cardiopulmonary process"),
    ("1. Describe the lungs: The lungs are clear.", "normal", "Describe the lungs: The lungs are clear."),
    ("3. Conclude if pneumonia opacities are present: No.", "normal",
     "Conclude if pneumonia opacities are present: No."),
    ("Are there pneumonia opacities? Yes.", "pneumonia", "Yes."),
    ("**Pneumonia:** Absent", "normal", "Pneumonia: Absent"),
    ("| Finding | Present |\n|---|---|\n| Consolidation | No |", "normal", "Consolidation | No"),
    ("**Lungs:**\n- Clear bilaterally.\n**Heart:**\n- Normal.", "normal", "Clear bilaterally."),
    # The impression weighs above the body, in either direction.
    ("Findings: Hazy opacity at the left base.\nImpression: No acute cardiopulmonary process.", "normal",
     "Impression: No acute cardiopulmonary process."),
    ("FINDINGS: The lungs are clear.\nIMPRESSION: Early right lower lobe pneumonia.", "pneumonia",
     "Early right lower lobe pneumonia."),
    ("The lungs appear clear. In conclusion, the findings are suspicious for early pneumonia.", "pneumonia",
     "In conclusion, the findings are suspicious for early pneumonia."),
    ("Left lower lobe consolidation. Overall, no convincing evidence of pneumonia.", "normal",
     "Overall, no convincing evidence of pneumonia."),
    # Within a tier the last firm statement wins; a later hedge amends a normal statement.
    ("No consolidation. However, early pneumonia cannot be excluded.", "uncertain",
     "However, early pneumonia cannot be excluded."),
    ("Possible subtle opacity. No consolidation is seen.", "normal", "No consolidation is seen."),
    ("Right lower lobe consolidation. Superimposed infection cannot be excluded.", "pneumonia",
     "Right lower lobe consolidation."),
    # Partial normal statements do not undo a finding.
    ("Right lower lobe pneumonia. Otherwise normal chest radiograph.", "pneumonia", "Right lower lobe pneumonia."),
    ("Consolidation at the right base. The left lung is clear.", "pneumonia", "Consolidation at the right base."),
    ("The left lung is clear. The right lung is clear.", "normal", "The right lung is clear."),
    # Recommendations and differentials do not decide.
    ("The lungs are clear.\n**Recommendations:**\n- Repeat imaging if pneumonia is suspected clinically.",
     "normal", "The lungs are clear."),
    ("Patchy left basilar opacity.\n**Differential diagnosis:**\n- Pneumonia\n- Atelectasis", "uncertain",
     "Pneumonia"),
    # Non-English text without a final line: simple keyword reading.
    ("Pas de signe de pneumonie.", "normal", "Pas de signe de pneumonie."),
    ("No se observan signos de neumonía.", "normal", "No se observan signos de neumonía."),
    ("Keine Hinweise auf eine Pneumonie.", "normal", "Keine Hinweise auf eine Pneumonie."),
    ("Eine Pneumonie ist nicht auszuschließen.", "uncertain", "Eine Pneumonie ist nicht auszuschließen."),
    ("双肺未见肺炎征象。", "normal", "双肺未见肺炎征象。"),
    ("右下肺野实变影，考虑肺炎。", "pneumonia", "右下肺野实变影，考虑肺炎。"),
    ("لا توجد علامات على الالتهاب الرئوي.", "normal", "لا توجد علامات على الالتهاب الرئوي."),
]


@pytest.mark.parametrize(("text", "label", "evidence"), REPORTS_INLINE)
def test_report(text: str, label: str, evidence: str) -> None:
    reading = read_report(text)
    assert (reading.label, reading.evidence) == (label, evidence), reading


def test_reading_names_its_rule() -> None:
    assert read_report("Final answer: NORMAL").rule == "final-answer"
    assert read_report("Impression: No pneumonia.").rule == "impression-negated"
    assert read_report("Right lower lobe consolidation.").rule == "finding-positive"
    assert read_report("Pneumonia cannot be excluded.").rule == "finding-hedged"
    assert read_report("The heart is normal.").rule == "no-statement"
    assert read_report("Patchy opacity.").rule == "nonspecific-finding"


def _index() -> dict[str, dict[str, str]]:
    return yaml.safe_load((REPORTS / "index.yaml").read_text(encoding="utf-8"))


def test_every_example_report_is_indexed() -> None:
    assert sorted(p.name for p in REPORTS.glob("*.md")) == sorted(_index())


@pytest.mark.parametrize("name", sorted(_index()))
def test_example_report(name: str) -> None:
    expected = _index()[name]
    reading = read_report((REPORTS / name).read_text(encoding="utf-8"))
    assert reading.label == expected["label"], reading
    assert expected["evidence"] in reading.evidence, reading


@pytest.mark.parametrize("name", sorted(_index()))
def test_example_report_survives_markup_changes(name: str) -> None:
    """Windows line ends, bidi marks and extra blank lines do not change the reading."""
    text = (REPORTS / name).read_text(encoding="utf-8")
    variant = "\u200f" + text.replace("\n", "\r\n\r\n")
    assert read_report(variant).label == read_report(text).label


def test_non_string_input_does_not_raise() -> None:
    assert read_report(None).label == "uncertain"  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------
# Properties (hypothesis): any text gives one of the three labels, never raises, and the
# evidence is quoted from the text.

FRAGMENTS = [
    "pneumonia", "no", "not", "No evidence of", "cannot be excluded", "possible", "likely", "unlikely",
    "consolidation", "opacity", "the lungs are clear", "Final answer:", "NORMAL", "PNEUMONIA", "**",
    "#", "1.", "- ", ":", ";", ",", ".", "?", "but", "Impression:", "Conclusion", "Findings:",
    "Conclude if pneumonia opacities are present", "versus", "atelectasis", "الإجابة النهائية",
    "最终答案", "肺炎", "未见", "|", "\n", "\r\n", "\u200f", "Yes", "No.", "history of", "to rule out",
]
markdownish = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=8)), max_size=40).map(
    lambda parts: " ".join(parts)
)


def _check(text: str) -> Reading:
    reading = read_report(text)
    assert isinstance(reading, Reading)
    assert reading.label in LABELS
    assert reading.rule in RULES
    assert "\n" not in reading.evidence
    assert reading.evidence in plain_text(text)
    assert (reading.evidence == "") == (reading.rule == "no-statement")
    return reading


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text())
@example("")
@example("\x00\r\u2028**#\u200f")
def test_any_text_gives_a_label(text: str) -> None:
    _check(text)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(markdownish)
def test_report_like_text_gives_a_label(text: str) -> None:
    _check(text)


@settings(max_examples=100, deadline=None)
@given(markdownish, st.sampled_from(["PNEUMONIA", "NORMAL"]))
def test_a_final_answer_line_at_the_end_decides(text: str, token: str) -> None:
    reading = read_report(text + "\n\n**Final answer: " + token + "**")
    assert reading.rule == "final-answer"
    assert reading.label == token.lower()


# ------------------------------------------------------------------------------------------
# The earlier analysis's 20 real MedGemma reports (in the data folder, not in this repository):
# each reading and the kind of sentence that decided it, checked by eye once and pinned here.

REFERENCE_READINGS = {  # (condition, test index) → (label, rule, a word the deciding sentence holds)
    **{("lanczos", i): ("normal", "impression-negated", "pneumonia") for i in (1, 9, 44, 61, 67, 68, 71, 78)},
    ("lanczos", 22): ("normal", "finding-negated", "pneumonia"),  # cut off before its conclusion
    ("lanczos", 39): ("normal", "finding-negated", "pneumonia"),  # cut off inside its conclusion
    **{("swin2sr", i): ("normal", "impression-negated", "pneumonia") for i in (1, 22, 39, 44, 61, 67, 68, 71, 78)},
    ("swin2sr", 9): ("normal", "impression-normal", "lungs appear clear"),
}


def test_the_earlier_analysis_reports_are_read_as_they_say(data_dir: Path) -> None:
    from cxr_lib.data.datasets import REFERENCE_REPORTS_FILE, load_reference_reports

    if not (data_dir / REFERENCE_REPORTS_FILE).is_file():
        pytest.skip(f"no {REFERENCE_REPORTS_FILE} in {data_dir}")
    reports = load_reference_reports(data_dir)
    assert sorted(zip(reports["condition"], reports["index"])) == sorted(REFERENCE_READINGS)
    for condition, index, text in zip(reports["condition"], reports["index"], reports["text"]):
        label, rule, word = REFERENCE_READINGS[(condition, index)]
        reading = read_report(text)
        assert (reading.label, reading.rule) == (label, rule), (condition, index, reading)
        assert word in reading.evidence.lower() and reading.evidence in plain_text(text), (condition, index, reading)


def test_a_cut_off_report_keeps_only_a_verdict_it_reached() -> None:
    concluded = "Lungs: clear.\nConclusion: There is no evidence of pneumonia.\nDisclaimer: This analysis is"
    unfinished = "Lungs: no consolidation.\n3. Pneumonia: it is difficult to rule out. There are no clear"
    assert read_report(concluded, cut_off=True) == read_report(concluded)
    reading = read_report(unfinished, cut_off=True)
    assert (reading.label, reading.rule) == ("uncertain", "cut-off")
    assert reading.evidence == read_report(unfinished).evidence != ""
    final = "Right lower lobe consolidation.\nFinal answer: PNEUMONIA\nThe"
    assert read_report(final, cut_off=True).label == "pneumonia"
    assert read_report("Right lower lobe consolidation. The heart", cut_off=True).rule == "cut-off"


# --------------------------------------------------------------------------- showing the evidence
def test_highlight_marks_the_evidence_sentence() -> None:
    text = "The heart is normal. There is a focal consolidation in the right lower lobe consistent with pneumonia."
    reading = read_report(text)
    parts = highlight(text, reading.evidence, reading.label)
    assert "".join(segment for segment, _ in parts) == text
    tagged = [(segment, tag) for segment, tag in parts if tag]
    assert tagged == [(reading.evidence, reading.label)] and reading.label == "pneumonia"


def test_highlight_finds_evidence_through_markdown() -> None:
    text = "## Findings\n- Lungs: clear.\n\n**Impression:** No *focal consolidation* to suggest pneumonia.\n"
    reading = read_report(text)
    parts = highlight(text, reading.evidence, reading.label)
    assert "".join(segment for segment, _ in parts) == text
    assert [tag for _, tag in parts if tag] == ["normal"]
    assert "focal consolidation" in next(segment for segment, tag in parts if tag)


def test_highlight_without_evidence_leaves_the_report_whole() -> None:
    assert highlight("Lungs are clear.", "", "normal") == [("Lungs are clear.", None)]
    assert highlight("Lungs are clear.", "Heart is enlarged.", "normal") == [("Lungs are clear.", None)]
    assert highlight("", "anything", "normal") == [] and evidence_span("", None) is None


def test_report_html_marks_what_the_app_highlights() -> None:
    from cxr_lib.study import report_html

    text = "## Findings\n- Lungs: clear.\n\n**Impression:** No *focal consolidation* to suggest <pneumonia>.\n"
    html = report_html(text, "ar", "No focal consolidation to suggest <pneumonia>.")
    assert 'dir="rtl"' in html and "<pneumonia" not in html  # escaped
    assert html.count("<mark>") == 1 and "<mark>No *focal consolidation* to suggest &lt;pneumonia</mark>" in html
