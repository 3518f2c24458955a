"""Arabic: the words and constructions the label reader looks for in an Arabic report.

Each field is described in :class:`~cxr_lib.languages.vocabulary.Vocabulary`. Phrases are regular
expressions, matched with word boundaries around them.
"""

from __future__ import annotations

from cxr_lib.languages.registry import Language
from cxr_lib.languages.vocabulary import Vocabulary

_PNEUMONIA = (r"(?:ال)?التهاب\s+(?:ال)?رئوي", r"ذات\s+الرئة")

VOCABULARY = Vocabulary(
    pneumonia_findings=(*_PNEUMONIA[:1], r"(?:ال)?تهاب\s+(?:ال)?رئة", *_PNEUMONIA[1:]),
    opacity_findings=(r"عتامة", r"عتامات"),
    negation_before=(r"لا", r"لم", r"عدم", r"بدون", r"غياب", r"خالية من", r"خالي من", r"ليس"),
    negation_after=(r"غير موجود", r"غير موجودة"),
    hedge_before=(r"لا يمكن استبعاد", r"ربما", r"محتمل", r"محتملة"),
    terminations=(r"لكن", r"ولكن"),
    or_words=(r"أو",),
    and_words=(r"و",),
    normal_study=(r"صورة طبيعية", r"أشعة طبيعية"),
    lung_words=(r"الرئتان", r"الرئتين", r"الرئة"),
    normal_words=(r"طبيعية", r"طبيعي", r"سليمة", r"سليمتين", r"صافية"),
    bare_normal=(r"طبيعي", r"طبيعية"),
    other_organs=(r"القلب",),
    conclusion_headings=(r"الخلاصة", r"الاستنتاج", r"التشخيص", r"خلاصة", r"استنتاج"),
    conclusion_openers=(r"في الختام", r"الخلاصة"),
    ignored_headings=(r"التوصيات", r"توصيات"),
    body_headings=(r"الموجودات", r"النتائج"),
    heart_headings=(r"القلب",),
    answer_markers=(r"الإجابة\s+النهائية", r"الاجابة\s+النهائية", r"الجواب\s+النهائي", r"الإجابة", r"الاجابة"),
    pneumonia_tokens=_PNEUMONIA,
    normal_tokens=(r"طبيعي", r"طبيعية"),
    uncertain_tokens=(r"غير مؤكد",),
    token_negations=(r"لا",),
    token_negated_after=(r"غير",),
    yes_answers=(r"نعم",),
    no_answers=(r"لا",),
    interjections=(r"نعم", r"لا"),
)

LANGUAGE = Language(code="ar", name="Arabic", prompt_line="Please answer in Arabic.", vocabulary=VOCABULARY,
                    direction="rtl", order=3)
