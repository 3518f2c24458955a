"""Arabic: the words and constructions the label reader looks for in an Arabic report.

Negation comes before the finding: the particles لا، لم، لن، ليس and the nouns and prepositions
عدم، غياب، دون، بدون، من دون، بلا، خالٍ من ("لا يوجد دليل على الالتهاب الرئوي", "عدم وجود
تكثف", "لم يتم العثور على …"), or after it: غير موجود، غير ظاهر، مستبعد، منفي ("الالتهاب الرئوي
غير موجود"). Hedges are قد (with a verb in the present: "قد يمثل")، ربما، يحتمل، من المحتمل،
محتمل، ممكن, and "لا يمكن استبعاد"؛ "يتوافق مع"، "يشير إلى"، "يوحي ب" and "على الأرجح" are calls.
A clause that interprets the finding before it opens with مما، الذي، التي or a hedge after "،".

Words take clitics in front (و، ف conjunctions; ب، ل، ك prepositions; ال the article), and short
vowel marks and the tatweel may be written or not: :func:`_tolerant` lets every phrase carry them.
Each field is described in :class:`~cxr_lib.languages.vocabulary.Vocabulary`.
"""

from __future__ import annotations

import re
from dataclasses import fields, replace

from cxr_lib.languages.registry import Language
from cxr_lib.languages.vocabulary import PHRASE_FIELDS, Vocabulary

#: Optional clitics before a word: a conjunction, then a preposition or the article (للـ = لـ + الـ).
_C = r"(?:[وف])?(?:[بك]?ال|لل|[بلك])?"
#: The same before a verb or particle (no article).
_V = r"(?:[وف])?"
_PNEUMONIA = (
    _C + r"التهابا?\s+" + r"(?:ال)?رئوي(?:ة|ا|ين)?",
    _C + r"التهابا?\s+(?:في\s+)?(?:ال)?رئ(?:ة|تين|تان)",
    _C + r"ذات\s+الرئة",
)
_SEEN = r"(?:يوجد|توجد|يظهر|تظهر|يلاحظ|تلاحظ|يرى|ترى|نرى|أرى|يبدو|تبدو|يتضح)"

VOCABULARY = Vocabulary(
    sentence_ends="؟",
    question_marks="؟",
    commas="،",
    clause_breaks="؛",
    pneumonia_findings=(
        *_PNEUMONIA, _C + r"تكثفا?(?:ت)?(?:\s+(?:ال)?رئوي(?:ة|ا)?)?", _C + r"تكثيف", _C + r"تصلدا?",
        _C + r"ارتشاحا?(?:ات)?", _C + r"رشاحة", _C + r"(?:عدوى|إنتان|انتان)\s+(?:في\s+)?(?:ال)?رئ\w*",
    ),
    opacity_findings=(_C + r"عتامة", _C + r"عتامات", _C + r"تعتيم", _C + r"كثافة", _C + r"ظلال",
                      _C + r"زجاج\s+(?:ال)?(?:مطحون|مصنفر)"),
    negation_before=(
        _V + r"لا", _V + r"لم", _V + r"لن", _V + r"ليس", _V + r"ليست", _C + r"عدم", _C + r"غياب", _C + r"انعدام",
        _V + r"دون", _V + r"بدون", r"من\s+دون", r"من\s+غير", _V + r"بلا", r"خال(?:ية|يتان|يتين|ي)?\s+من",
        r"ما\s+من", r"لا\s+" + _SEEN, r"(?:تم|يتم|جرى)\s+(?:استبعاد|نفي)",
    ),
    negation_after=(
        r"غير\s+(?:موجود|مرئي|ظاهر|ملحوظ|واضح)(?:ة|ين)?", r"منفي(?:ة)?", r"سلبي(?:ة)?",
        r"(?:تم|يتم|جرى)\s+(?:استبعاد|نفي)(?:ه|ها)",
    ),
    negation_either=(r"مستبعد(?:ة)?", r"غير\s+محتمل(?:ة)?", r"من\s+غير\s+المرجح", r"احتمال\s+ضعيف"),
    pseudo_negations=(r"(?:لا|دون|بدون)\s+تغيير", r"ليس\s+فقط", r"لا\s+يقتصر"),
    hedge_before=(
        r"قد(?!\s+تم)", r"ربما", r"يحتمل", r"يُحتمل", r"من\s+المحتمل", r"محتمل(?:ة)?", _C + r"احتمال(?:ية)?",
        r"من\s+الممكن", r"ممكن", r"يمكن\s+أن", r"مشكوك\s+في(?:ه|ها)?",
    ),
    hedge_after=(r"محتمل(?:ة)?", r"ممكن", r"مشكوك\s+في(?:ه|ها)?"),
    hedge_either=(
        r"لا\s+يمكن\s+(?:استبعاد|نفي)(?:ه|ها)?", r"لا\s+(?:يستبعد|تستبعد)", r"غير\s+مستبعد(?:ة)?",
        r"لا\s+يمكن\s+(?:ال)?جزم",
    ),
    hedge_linking=(r"قد\s+(?:يمثل|تمثل|يشير|تشير|يكون|تكون|يدل|تدل|يعكس|تعكس)",),
    call_linking=(
        r"(?:ي|ت)?توافق\s+مع", r"متوافق(?:ة)?\s+مع", r"(?:ي|ت)تماشى\s+مع", r"(?:ي|ت)تفق\s+مع", r"(?:ي|ت)شير\s+إلى",
        r"(?:ي|ت)دل\s+على", r"(?:ي|ت)وحي\s+ب", r"على\s+الأرجح", r"مرجح(?:ة)?", r"مشتبه\s+(?:ب|في)",
        r"(?:ي|ت)شتبه", r"نموذجي(?:ة)?\s+ل",
    ),
    relative_openers=(r"مما", r"ما", _V + r"الذي", _V + r"التي", r"وهو\s+ما", _V + r"هذا", _V + r"هذه"),
    interpretation_words=(r"(?:ي|ت)مثل", r"(?:ي|ت)شير", r"بسبب", r"ناتج(?:ة)?", r"نتيجة", _C + r"عدوى",
                          _C + r"انخماص", _C + r"التهاب\w*"),
    requests=(r"لاستبعاد", r"لنفي", r"تاريخ\s+مرضي", r"إذا", r"في\s+حال", r"للتحقق\s+من", r"للبحث\s+عن"),
    terminations=(_V + r"لكن", _V + r"لكنّ", r"غير\s+أن", r"إلا\s+أن", r"بينما", _V + r"مع\s+ذلك", r"عدا",
                  r"باستثناء"),
    or_words=(r"أو", r"أم"),
    nor_words=(r"ولا",),
    and_words=(r"و",),
    normal_study=(
        r"صورة\s+طبيعية", r"أشعة\s+طبيعية", r"صورة\s+(?:ال)?(?:صدر|أشعة)\s+طبيعية",
        r"لا\s+توجد\s+(?:أي\s+)?(?:تشوهات|موجودات\s+مرضية|نتائج\s+غير\s+طبيعية)", r"ضمن\s+الحدود\s+الطبيعية",
    ),
    lung_words=(r"(?:ال)?رئتان", r"(?:ال)?رئتين", r"(?:ال)?رئة", r"(?:ال)?حقول\s+(?:ال)?رئوية"),
    normal_words=(r"طبيعية", r"طبيعي", r"طبيعيتان", r"طبيعيتين", r"سليمة", r"سليمتان", r"سليمتين", r"صافية",
                  r"صافيتان", r"صافيتين", r"نظيفة", r"نظيفتان", r"خالية", r"خاليتان", r"خاليتين"),
    bare_normal=(r"طبيعي", r"طبيعية", r"سليمة", r"لا\s+شيء\s+غير\s+طبيعي"),
    other_organs=(_C + r"قلب", r"(?:ال)?عظام", r"(?:ال)?أضلاع", r"(?:ال)?حجاب\s+(?:ال)?حاجز", r"(?:ال)?منصف",
                  r"(?:ال)?ظل\s+(?:ال)?قلبي"),
    partial_normal=(r"باقي", r"بقية", r"ما\s+عدا", r"فيما\s+عدا"),
    left_words=(r"(?:ال)?أيسر", r"(?:ال)?يسرى"),
    right_words=(r"(?:ال)?أيمن", r"(?:ال)?يمنى"),
    both_sides_words=(r"كلتا", r"كلا", r"(?:ال)?جانبين", r"ثنائي(?:ة)?"),
    instruction_openers=(r"صف", r"اشرح", r"حدد", r"قيّم", r"اكتب", r"أجب"),
    question_openers=(r"هل",),
    meta=(r"كنموذج\s+(?:ذكاء\s+اصطناعي|لغوي)", r"لست\s+طبيب\w*", r"استشر", r"استشارة\s+طبيب", r"لأغراض\s+تعليمية",
          r"لا\s+يغني\s+عن"),
    recommendation_openers=(r"يوصى", r"أوصي", r"ينصح", r"المتابعة", r"متابعة", r"يجب"),
    clause_verbs=(r"يوجد", r"توجد", r"يظهر", r"تظهر", r"هناك"),
    conclusion_headings=(r"(?:ال)?خلاصة", r"(?:ال)?استنتاج", r"(?:ال)?تشخيص", r"(?:ال)?انطباع", r"(?:ال)?خاتمة",
                         r"النتيجة\s+النهائية", r"(?:ال)?رأي"),
    conclusion_openers=(r"في\s+الختام", r"الخلاصة", r"خلاصة\s+القول", r"بشكل\s+عام", r"إجمالا", r"لذلك",
                        r"وبالتالي"),
    ignored_headings=(r"(?:ال)?توصيات", r"(?:ال)?توصية", r"التاريخ\s+المرضي", r"دواعي\s+الفحص", r"ملاحظ(?:ة|ات)",
                      r"إخلاء\s+المسؤولية"),
    body_headings=(r"(?:ال)?موجودات", r"(?:ال)?نتائج", r"(?:ال)?وصف", r"(?:ال)?ملاحظات"),
    heart_headings=(r"(?:ال)?قلب", r"(?:ال)?ظل\s+(?:ال)?قلبي"),
    answer_markers=(r"الإجابة\s+النهائية", r"الاجابة\s+النهائية", r"الجواب\s+النهائي", r"الإجابة", r"الاجابة"),
    pneumonia_tokens=(r"(?:ال)?التهاب\s+(?:ال)?رئوي", r"ذات\s+الرئة"),
    normal_tokens=(r"طبيعي", r"طبيعية"),
    uncertain_tokens=(r"غير\s+مؤكد",),
    token_negations=(r"لا",),
    token_negated_after=(r"غير",),
    yes_answers=(r"نعم", r"موجود(?:ة)?", r"إيجابي(?:ة)?", r"ايجابي(?:ة)?"),
    no_answers=(r"لا", r"سلبي(?:ة)?"),
    unsure_answers=(r"محتمل(?:ة)?", r"ممكن", r"ربما", r"غير\s+مؤكد"),
    interjections=(r"نعم", r"لا"),
)

_MARKS = "[\u064b-\u0652\u0670\u0640]*"  # short vowels, shadda, sukun, dagger alif, tatweel
_LETTER = re.compile(r"[\u0621-\u064a]")


def _tolerant(pattern: str) -> str:
    """``pattern`` with optional vowel marks and tatweel after every Arabic letter outside ``[…]``."""
    out, depth = [], 0
    for i, char in enumerate(pattern):
        escaped = i > 0 and pattern[i - 1] == "\\"
        depth += (char == "[" and not escaped) - (char == "]" and not escaped and depth > 0)
        if depth or not _LETTER.match(char):
            out.append(char)
        elif pattern[i + 1:i + 2] in ("?", "*", "+", "{"):
            out.append(f"(?:{char}{_MARKS})")  # the quantifier after it applies to the letter with its marks
        else:
            out.append(char + _MARKS)
    return "".join(out)


VOCABULARY = replace(VOCABULARY, **{
    f.name: tuple(_tolerant(p) for p in getattr(VOCABULARY, f.name)) for f in fields(VOCABULARY)
    if f.name in PHRASE_FIELDS
})

LANGUAGE = Language(code="ar", name="Arabic", prompt_line="Please answer in Arabic.", vocabulary=VOCABULARY,
                    direction="rtl", order=3)
