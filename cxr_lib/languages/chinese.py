"""Chinese: the words and constructions the label reader looks for in a Chinese report.

Each field is described in :class:`~cxr_lib.languages.vocabulary.Vocabulary`. Chinese is written
without spaces, so phrases are matched without word boundaries.
"""

from __future__ import annotations

from cxr_lib.languages.registry import Language
from cxr_lib.languages.vocabulary import Vocabulary

VOCABULARY = Vocabulary(
    spaced=False,
    sentence_ends="。！？",
    question_marks="？",
    commas="，、",
    clause_breaks="，；",
    pneumonia_findings=(r"肺炎", r"实变", r"實變", r"浸润", r"浸潤"),
    opacity_findings=(r"阴影", r"陰影", r"模糊影", r"磨玻璃"),
    negation_before=(r"无", r"無", r"未见", r"未見", r"没有", r"沒有", r"未发现", r"未發現", r"排除", r"未"),
    hedge_before=(r"可能", r"不除外", r"不能排除", r"疑似", r"待排"),
    hedge_after=(r"不除外", r"待排", r"可能"),
    terminations=(r"但是", r"但", r"然而", r"不过", r"不過"),
    or_words=(r"或", r"及"),
    and_words=(r"和",),
    normal_study=(r"胸片正常", r"正常胸片", r"未见异常", r"未見異常", r"未见明显异常"),
    lung_words=(r"肺",),
    normal_lung_phrases=(r"双肺清晰", r"两肺清晰", r"双肺未见异常", r"肺野清晰", r"雙肺清晰"),
    bare_normal=(r"正常",),
    other_organs=(r"心脏", r"心影"),
    conclusion_headings=(r"结论", r"結論", r"印象", r"诊断", r"診斷", r"总结", r"總結"),
    conclusion_openers=(r"总之", r"综上", r"總之", r"綜上"),
    ignored_headings=(r"建议", r"建議"),
    body_headings=(r"所见", r"所見", r"表现"),
    heart_headings=(r"心",),
    answer_markers=(r"最终答案", r"最終答案", r"答案"),
    pneumonia_tokens=(r"肺炎",),
    normal_tokens=(r"正常",),
    uncertain_tokens=(r"不确定",),
    token_negations=(r"无", r"無"),
    yes_answers=(r"是", r"有"),
    no_answers=(r"否", r"无", r"未见"),
)

LANGUAGE = Language(code="zh", name="Chinese", prompt_line="Please answer in Chinese.", vocabulary=VOCABULARY, order=4)
