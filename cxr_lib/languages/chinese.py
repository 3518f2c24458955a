"""Chinese: the words and constructions the label reader looks for in a Chinese report.

Chinese is written without spaces, so phrases are matched without word boundaries. Negation comes
before the finding ("未见", "无", "没有", "未发现", "不支持") or after it ("肺炎可排除", "…阴性");
hedges are "可能", "疑似", "可疑", "不除外", "待排" on either side ("右下肺实变，可能为肺炎");
"考虑", "提示", "符合" are calls; "可能性小" is a negation. A clause after "，" that opens with a
hedge interprets the finding before it. Each field is described in
:class:`~cxr_lib.languages.vocabulary.Vocabulary`.
"""

from __future__ import annotations

from cxr_lib.languages.registry import Language
from cxr_lib.languages.vocabulary import Vocabulary

_UNSEEN = (r"未见", r"未見", r"未发现", r"未發現", r"未显示", r"未顯示")

VOCABULARY = Vocabulary(
    spaced=False,
    sentence_ends="。！？",
    question_marks="？",
    commas="，、",
    clause_breaks="，；",
    pneumonia_findings=(
        r"肺炎", r"实变", r"實變", r"浸润", r"浸潤", r"渗出(?:影|性病变|灶)?", r"滲出(?:影|性病變|灶)?",
        r"肺部感染", r"肺感染", r"感染灶", r"炎性(?:病变|改变|渗出|浸润)", r"炎症",
    ),
    opacity_findings=(r"阴影", r"陰影", r"模糊影", r"磨玻璃", r"斑片影", r"片状影", r"高密度影", r"密度增高"),
    negation_before=(r"无", r"無", r"没有", r"沒有", r"并无", r"並無", r"不支持", r"不符合", r"不伴", r"排除",
                     r"未"),
    negation_after=(r"可排除", r"已排除", r"阴性", r"陰性", r"不明显", r"已吸收", r"消失"),
    negation_either=(*_UNSEEN, r"可能性(?:小|不大|较小|極小|极小)", r"不太可能", r"不考虑", r"不考慮"),
    pseudo_negations=(r"无(?:明显)?变化", r"無(?:明顯)?變化", r"未见(?:明显)?变化", r"不仅"),
    hedge_before=(r"可能", r"疑似", r"可疑", r"不除外", r"待排", r"或为", r"或為"),
    hedge_after=(r"可能", r"可疑", r"不除外", r"待排", r"待除外", r"待查"),
    hedge_either=(r"不能排除", r"不能除外", r"不除外", r"待排除", r"难以排除", r"難以排除"),
    hedge_linking=(r"可能为", r"可能是", r"可能系", r"或为"),
    call_linking=(r"考虑", r"考慮", r"提示", r"符合", r"倾向", r"傾向", r"多为", r"系"),
    interpretation_words=(r"为", r"為", r"系", r"感染", r"肺不张", r"肺不張", r"炎症", r"炎性"),
    requests=(r"以排除", r"排除诊断", r"病史", r"如果", r"若", r"复查以"),
    terminations=(r"但是", r"但", r"然而", r"不过", r"不過", r"惟"),
    or_words=(r"或", r"及"),
    and_words=(r"和",),
    normal_study=(r"胸片正常", r"正常胸片", r"未见异常", r"未見異常", r"未见明显异常", r"心肺未见(?:明显)?异常",
                  r"胸部未见(?:明显)?异常"),
    lung_words=(r"肺",),
    normal_lung_phrases=(r"双肺清晰", r"两肺清晰", r"双肺未见异常", r"肺野清晰", r"雙肺清晰", r"双肺野清晰",
                         r"两肺野清晰", r"双肺纹理清晰", r"肺纹理清晰", r"双肺未见明显异常", r"肺内未见异常"),
    bare_normal=(r"正常", r"未见异常"),
    other_organs=(r"心脏", r"心影", r"纵隔", r"縱隔", r"膈", r"肋骨", r"骨骼", r"胸膜"),
    partial_normal=(r"其余", r"其餘", r"余肺", r"餘肺"),
    question_openers=(r"是否", r"有无", r"有無", r"有没有", r"有沒有"),
    conclusion_headings=(r"结论", r"結論", r"印象", r"诊断", r"診斷", r"总结", r"總結", r"意见", r"意見"),
    conclusion_openers=(r"总之", r"综上", r"總之", r"綜上"),
    ignored_headings=(r"建议", r"建議", r"病史", r"临床资料", r"臨床資料", r"检查方法", r"備註", r"备注"),
    body_headings=(r"所见", r"所見", r"表现", r"表現", r"描述"),
    heart_headings=(r"心",),
    answer_markers=(r"最终答案", r"最終答案", r"答案"),
    pneumonia_tokens=(r"肺炎",),
    normal_tokens=(r"正常",),
    uncertain_tokens=(r"不确定", r"不確定"),
    token_negations=(r"无", r"無"),
    token_negated_after=(r"不是", r"未见"),
    yes_answers=(r"是", r"有", r"阳性", r"陽性", r"存在"),
    no_answers=(r"否", r"无", r"無", r"未见", r"未見", r"没有", r"阴性", r"陰性"),
    unsure_answers=(r"可能", r"可疑", r"不确定", r"不除外"),
)

LANGUAGE = Language(code="zh", name="Chinese", prompt_line="Please answer in Chinese.", vocabulary=VOCABULARY, order=4)
