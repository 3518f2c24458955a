"""Step 3 of the label reader: one sentence → what it says about pneumonia (NegEx-style scope).

Each mention of a finding gets a status from the cues in its clause — *negated*, *hedged*, *ignored*
(a request such as "to rule out") or *affirmed* — and the sentence a verdict from its mentions
(:func:`classify`). The cues are every registered language's (:mod:`cxr_lib.analysis.labels_lexicon`);
the scope rules are the same for all of them:

- a cue before a finding acts over the words up to it, within its clause (a clause ends at "but",
  "however", ";", …) and over commas only when the words form a list ("no effusion, pneumothorax,
  or consolidation");
- a cue after a finding acts within eight words;
- a negation governs the linking phrases after it ("no opacity **to suggest** pneumonia");
- phrases that hold a negation but are ≈ 50 % ("cannot be excluded") are found first, so they never
  read as a negation; pseudo-negations ("no change") are not cues.
"""

from __future__ import annotations

import re

from cxr_lib.analysis.labels_lexicon import Lexicon

Triggers = dict[str, list[tuple[int, int]]]

#: Cue kinds, in the order they are found; each masks its text from the kinds after it.
_ORDER = ("pseudo", "hedge_fixed", "request", "neg_both", "hedge_post", "hedge_rel", "hedge_pre", "positive_rel",
          "neg_post", "neg_pre")
#: The kinds that hedge, and those that negate.
HEDGES, NEGATIONS = ("hedge_fixed", "hedge_post", "hedge_rel", "hedge_pre"), ("neg_both", "neg_post", "neg_pre")


def find_triggers(sentence: str, lex: Lexicon) -> Triggers:
    """Cue spans by kind; earlier kinds mask later ones (a pseudo-negation hides its "no")."""
    work = sentence
    found: Triggers = {}
    for name in _ORDER:
        spans = [m.span() for m in getattr(lex, name).finditer(work) if m.end() > m.start()]
        found[name] = spans
        if name == "hedge_post":
            continue  # "possible" after a finding is also "possible" before the next one
        for s, e in spans:
            work = work[:s] + " " * (e - s) + work[e:]
    found["term"] = [m.span() for m in lex.termination.finditer(sentence)]
    return found


def _reaches(between: str, after: str, lex: Lexicon) -> bool:
    """Whether a cue's scope runs over ``between`` to the mention.

    A comma ends it unless the words form a list: "no effusion, pneumothorax, or consolidation"
    (a conjunction before the mention, or "… consolidation or edema" after it), or a relative clause
    goes on about the noun before it ("keine Verschattung, die einer Pneumonie entsprechen könnte");
    "no effusion, consolidation in the right lower lobe" starts a new clause.
    """
    commas = list(lex.comma.finditer(between))
    if not commas:
        return True
    if lex.relative.match(between[commas[-1].end():].lstrip()):
        return True
    return bool(lex.list_conjunction.search(between) or lex.list_continues.match(after))


def status(sentence: str, start: int, end: int, trig: Triggers, lex: Lexicon) -> str:
    """affirmed | negated | hedged | ignored for the mention sentence[start:end]."""
    clause_start = max((e for s, e in trig["term"] if e <= start), default=0)
    clause_end = min((s for s, e in trig["term"] if s >= end), default=len(sentence))

    def before(name: str) -> list[int]:
        return [
            s for s, e in trig[name]
            if s >= clause_start and e <= start and _reaches(sentence[e:start], sentence[end:clause_end], lex)
        ]

    negs, hedges = before("neg_pre") + before("neg_both"), before("hedge_pre") + before("hedge_fixed")
    rels, requests = before("hedge_rel"), before("request")
    last_neg = max(negs, default=-1)
    last_hedge = max(hedges, default=-1)
    last_req = max(requests, default=-1)
    if last_req > max(last_neg, last_hedge):
        return "ignored"
    if last_neg >= 0 and last_neg > last_hedge:
        return "negated"  # a negation governs the linking hedges after it
    if last_hedge >= 0 or rels:
        return "hedged"

    def after(name: str) -> list[int]:
        hits = []
        for s, _ in trig[name]:
            between = sentence[end:s]
            if end <= s <= clause_end and len(re.findall(r"\w+", between)) <= 8 and _reaches(between, "", lex):
                hits.append(s)
        return hits

    post_hedge, post_neg = after("hedge_post") + after("hedge_fixed"), after("neg_post") + after("neg_both")
    if post_hedge and (not post_neg or min(post_hedge) <= min(post_neg)):
        return "hedged"
    if post_neg:
        return "negated"
    question = lex.question_next.match(sentence[end:])
    if question or lex.question_end.search(sentence[:start]):
        return "hedged"
    return "affirmed"


def hedged_interpretation(sentence: str, end: int, trig: Triggers, lex: Lexicon) -> bool:
    """Whether a clause after the finding that ends at ``end`` says, with a hedge, what it means.

    "Airspace disease, **which may represent** atelectasis or pneumonia", "consolidation, **possibly
    reflecting** infection", "Konsolidierung, **die** einer Pneumonie entsprechen **könnte**", "实变，
    **考虑**感染**可能**", "consolidation at the base **may represent** pneumonia": the clause opens
    (after a comma, at a relative word or at a hedging link) with a relative word or a linking cue,
    holds a hedge, and names a finding or what one may mean. The finding is seen; what it means is
    not decided. A list ("consolidation and an effusion, which may …") stops it.
    """
    stop = min((s for s, e in trig["term"] if s >= end and not lex.comma.fullmatch(sentence[s:e])),
               default=len(sentence))
    commas = [m.end() for m in lex.comma.finditer(sentence, end, stop)]
    first_comma = commas[0] - 1 if commas else stop
    relative = lex.relative.search(sentence, end, first_comma)
    links = [s for s, _ in trig["hedge_rel"] if end <= s < first_comma]  # "consolidation … may represent …"
    starts = commas + [m.start() for m in (relative,) if m] + links[:1]
    hedges = [(s, e) for name in HEDGES for s, e in trig[name]]
    linking = hedges + trig["positive_rel"]
    for start in starts:
        if lex.list_conjunction.search(sentence, end, start):
            continue  # "consolidation and a small effusion, which may …" is about the effusion
        clause = sentence[start:stop]
        first = start + len(clause) - len(clause.lstrip())
        opens = lex.relative.match(sentence, first) or any(s == first for s, _ in linking)
        hedged = any(start <= s and e <= stop for s, e in hedges)
        interprets = names_finding(clause, lex) or lex.interpretation.search(clause)
        if opens and hedged and interprets:
            return True
    return False


def mentions(sentence: str, lex: Lexicon) -> list[tuple[int, int, bool]]:
    """(start, end, strong) of every finding named in the sentence; strong ones mean pneumonia."""
    strong = [(m.start(), m.end(), True) for m in lex.strong.finditer(sentence)]
    weak = [
        (m.start(), m.end(), False)
        for m in lex.weak.finditer(sentence)
        if not any(s < m.end() and m.start() < e for s, e, _ in strong)
    ]
    return strong + weak


def names_finding(text: str, lex: Lexicon) -> bool:
    """Whether the text names a finding, strong or not."""
    return bool(lex.strong.search(text) or lex.weak.search(text))


def _is_partial(sentence: str, lex: Lexicon) -> bool:
    """Whether a statement is about part of the chest ("otherwise", "the left lung")."""
    if lex.partial.search(sentence):
        return True
    one_side = bool(lex.left.search(sentence)) != bool(lex.right.search(sentence))
    return one_side and not lex.both_sides.search(sentence)


def _normal_statement(sentence: str, subject: str, lex: Lexicon) -> bool:
    """Whether the sentence says the lungs or the whole study are normal."""
    for match in lex.lung_normal.finditer(sentence):
        if not lex.neg_pre.search(match.group()) or re.search(r"free of|clear of", match.group(), re.I):
            return True
    match = lex.global_normal.search(sentence)
    if match:
        about_other = lex.other_organ.search(sentence) and not lex.lung_mention.search(sentence)
        if not about_other:
            return True
    bare = re.sub(r"[\s.!。,;]+$", "", sentence).strip()
    bare = lex.bare_subject.sub("", bare)
    return bool(lex.bare_normal.match(bare)) and subject in ("lungs", "conclusion", "")


def classify(sentence: str, subject: str, differential: bool, lex: Lexicon) -> tuple[str, str] | None:
    """(label, kind) for one sentence, or None when it says nothing about pneumonia.

    Kinds: positive (affirmed strong finding), hedged, negated, normal, partial-normal, nonspecific.
    """
    trig = find_triggers(sentence, lex)
    strong_status, weak_status = [], []
    for start, end, strong in mentions(sentence, lex):
        found = status(sentence, start, end, trig, lex)
        if found == "affirmed" and (differential or (strong and hedged_interpretation(sentence, end, trig, lex))):
            found = "hedged"
        (strong_status if strong else weak_status).append((found, sentence[start:end]))
    partial = _is_partial(sentence, lex)
    if any(s == "affirmed" for s, _ in strong_status):
        return "pneumonia", "positive"
    if any(s == "hedged" for s, _ in strong_status):
        return "uncertain", "hedged"
    negated_opacity = any(s == "negated" and lex.opacity.match(t) for s, t in weak_status)
    if any(s == "negated" for s, _ in strong_status) or negated_opacity:
        return ("normal", "partial-normal") if partial else ("normal", "negated")
    if not any(s == "affirmed" for s, _ in weak_status) and _normal_statement(sentence, subject, lex):
        return ("normal", "partial-normal") if partial else ("normal", "normal")
    if any(s in ("affirmed", "hedged") for s, _ in weak_status):
        return "uncertain", "nonspecific"
    return None
