"""Chinese: the label reader on Chinese constructions, and Chinese's entry in the registry.

Written without spaces, so words are matched without word boundaries. Negation "未见", "无",
"没有", "未发现", "不支持" before the finding, "可排除", "阴性", "未见" after it; hedges "可能",
"疑似", "不除外", "待排", "考虑…可能"; calls "考虑", "提示"; "可能性小" is a negation.
"""

from __future__ import annotations

from language_checks import assert_entry, reading_tests

# (text, label, evidence)
NEGATED_EXISTENCE = [
    ("双肺未见肺炎征象。", "normal", "双肺未见肺炎征象。"),
    ("未见实变。", "normal", "未见实变。"),
    ("无肺炎。", "normal", "无肺炎。"),
    ("没有肺炎表现。", "normal", "没有肺炎表现。"),
    ("未发现肺炎。", "normal", "未发现肺炎。"),
    ("不支持肺炎。", "normal", "不支持肺炎。"),
    ("双肺未见明显渗出及实变。", "normal", "双肺未见明显渗出及实变。"),
    ("未见明确浸润影。", "normal", "未见明确浸润影。"),
]
NEGATION_AFTER = [
    ("肺炎可排除。", "normal", "肺炎可排除。"),
    ("肺炎未见。", "normal", "肺炎未见。"),
    ("肺炎可能性小。", "normal", "肺炎可能性小。"),
]
ANSWER_LINES = [
    ("肺炎：未见", "normal", "肺炎：未见"),
    ("肺炎：无", "normal", "肺炎：无"),
    ("肺炎：否", "normal", "肺炎：否"),
    ("肺炎：阴性", "normal", "肺炎：阴性"),
    ("肺炎：未发现", "normal", "肺炎：未发现"),
    ("结论：肺炎：未见。", "normal", "结论：肺炎：未见。"),
    ("是否有肺炎？否。", "normal", "否。"),
    ("肺炎：有", "pneumonia", "肺炎：有"),
    ("肺炎：是", "pneumonia", "肺炎：是"),
    ("肺炎：可能", "uncertain", "肺炎：可能"),
]
HEDGED_CLAUSES = [
    ("右下肺实变，可能为肺不张或肺炎。", "uncertain", "右下肺实变，可能为肺不张或肺炎。"),
    ("左下肺浸润，疑似肺炎。", "uncertain", "左下肺浸润，疑似肺炎。"),
    ("右肺浸润影，不除外肺炎。", "uncertain", "右肺浸润影，不除外肺炎。"),
    ("右下肺斑片状实变影，考虑感染可能。", "uncertain", "右下肺斑片状实变影，考虑感染可能。"),
]
HEDGES_AND_CALLS = [
    ("不除外肺炎。", "uncertain", "不除外肺炎。"),
    ("肺炎待排。", "uncertain", "肺炎待排。"),
    ("疑似肺炎。", "uncertain", "疑似肺炎。"),
    ("可能为肺炎。", "uncertain", "可能为肺炎。"),
    ("右下肺野实变影，考虑肺炎。", "pneumonia", "右下肺野实变影，考虑肺炎。"),
    ("右下肺炎症，提示肺炎。", "pneumonia", "右下肺炎症，提示肺炎。"),
    ("右下肺肺炎。", "pneumonia", "右下肺肺炎。"),
]
NORMAL_AND_SECTIONS = [
    ("双肺清晰。", "normal", "双肺清晰。"),
    ("胸片未见异常。", "normal", "胸片未见异常。"),
    ("**所见：**右下肺斑片影。\n**结论：**未见肺炎。", "normal", "结论：未见肺炎。"),
    ("心影大小正常。", "uncertain", ""),  # about the heart only
]


test_reading = reading_tests(NEGATED_EXISTENCE, NEGATION_AFTER, ANSWER_LINES,
                             HEDGED_CLAUSES, HEDGES_AND_CALLS, NORMAL_AND_SECTIONS)


def test_entry() -> None:
    assert_entry("zh", "Chinese")
