"""The earlier analysis, recomputed from its own reports (:func:`cxr_lib.data.datasets.load_reference_reports`).

Its headline, "MedGemma 30% → 60% with Swin2SR", came from a keyword parser. Here each of its
reports is read twice: by that parser (the label it stored) and by this package's reader
(:func:`cxr_lib.analysis.labels.read_report`, with the sentence that decided). Its reports were generated
with a 150-token budget and kept no stop reason, so a report whose text stops without ending a
sentence (:func:`looks_cut_off`) is taken as cut off and read with the cut-off rule: it keeps its
reading only if its conclusion was written before the cut.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

from cxr_lib.analysis.evaluate import CALL, STOP, TRUTH, condition_summary, outcomes
from cxr_lib.analysis.labels import read_report

#: What the earlier analysis's own text was read by, as a ``source`` value.
PARSER, READER = "earlier analysis: its keyword parser", "earlier analysis: this package's reader"
_SENTENCE_END = re.compile(r"[.!?。！？](?:[\"'”’)\]*_`]*)$")


def looks_cut_off(text: str) -> bool:
    """Whether a report stops mid-sentence (its last character is not sentence-final punctuation)."""
    return not _SENTENCE_END.search(text.rstrip())


def read_reports(reports: pd.DataFrame) -> pd.DataFrame:
    """The reports with this package's reading beside the earlier parser's: ``label``, ``evidence``,
    ``rule``, ``stop_reason`` (``max_new_tokens`` when cut off), ``outcome``, ``parser_outcome``."""

    frame = reports.copy()
    cut = frame["text"].map(looks_cut_off)
    readings = [read_report(text, cut_off=c) for text, c in zip(frame["text"], cut)]
    frame[CALL] = [r.label for r in readings]
    frame["evidence"] = [r.evidence for r in readings]
    frame["rule"] = [r.rule for r in readings]
    frame[STOP] = cut.map({True: "max_new_tokens", False: "eos"})
    frame["outcome"] = outcomes(frame)
    frame["parser_outcome"] = outcomes(frame.assign(**{CALL: frame["reference_parser_label"]}))
    return frame


def headline(read: pd.DataFrame) -> dict[str, dict[str, int]]:
    """Per condition, the counts behind the earlier headline and this reader's view of the same texts."""
    out: dict[str, dict[str, int]] = {}
    for condition, group in read.groupby("condition", sort=False):
        calls = group[CALL]
        out[str(condition)] = {
            "reports": len(group),
            "parser right": int((group["parser_outcome"] == "right").sum()),
            "read pneumonia": int((calls == "pneumonia").sum()),
            "read normal": int((calls == "normal").sum()),
            "read uncertain": int((calls == "uncertain").sum()),
            "cut off": int((group[STOP] == "max_new_tokens").sum()),
            "cut off before the verdict": int((group["rule"] == "cut-off").sum()),
            "right": int((group["outcome"] == "right").sum()),
            "clear calls": int(group["outcome"].isin(["right", "wrong"]).sum()),
            "right if uncertain → pneumonia": int((calls.replace("uncertain", "pneumonia")
                                                   == group[TRUTH].map({0: "normal", 1: "pneumonia"})).sum()),
            "right if uncertain → normal": int((calls.replace("uncertain", "normal")
                                                == group[TRUTH].map({0: "normal", 1: "pneumonia"})).sum()),
            "normal cases": int((group[TRUTH] == 0).sum()),
        }
    return out


def headline_table(read: pd.DataFrame) -> pd.DataFrame:
    """:func:`headline` as a table, one column per condition."""
    def share(k: int, n: int) -> str:
        return f"{k} of {n} ({k / n:.0%})" if n else "n/a"

    rows = {}
    for condition, h in headline(read).items():
        n = h["reports"]
        rows[condition] = {
            "its keyword parser: right": share(h["parser right"], n),
            "this reader: pneumonia / normal / uncertain": f"{h['read pneumonia']} / {h['read normal']} / {h['read uncertain']}",
            "cut off (of which before the verdict)": f"{h['cut off']} ({h['cut off before the verdict']})",
            "this reader: right, abstention = wrong": share(h["right"], n),
            "this reader: right among clear calls": share(h["right"], h["clear calls"]),
            "bounds: uncertain → pneumonia / → normal": (f"{h['right if uncertain → pneumonia']} / "
                                                        f"{h['right if uncertain → normal']} of {n}"),
            "'always normal' would score": share(h["normal cases"], n),
        }
    return pd.DataFrame(rows)


def report_table(read: pd.DataFrame) -> pd.DataFrame:
    """One row per earlier report: the case, its truth, the parser's label, this reader's label, the
    rule and the sentence that decided, and whether it was cut off."""
    columns = ["condition", "index", TRUTH, "reference_parser_label", CALL, "rule", STOP, "evidence"]
    return read[columns].rename(columns={"reference_parser_label": "earlier parser", CALL: "this reader",
                                         STOP: "stop"}).set_index(["condition", "index"])


def comparison(read: pd.DataFrame, ours: pd.DataFrame | None = None) -> pd.DataFrame:
    """The same ten cases three ways, per condition: the earlier reports read by its parser and by this
    package's reader, and (``ours``, records of this project's runs with the earlier prompt) this
    project's own reports. Abstentions, cut-off reports and both accuracies (:func:`condition_summary`)."""
    parts: list[Any] = [
        read.assign(source=PARSER, **{CALL: read["reference_parser_label"]}),
        read.assign(source=READER),
    ]
    if ours is not None and len(ours):
        parts.append(ours.assign(source="this project: the earlier prompt, greedy"))
    columns = ["condition", "source", "index", TRUTH, CALL, STOP]
    frame = pd.concat([p[columns] for p in parts], ignore_index=True)
    return condition_summary(frame, by=["condition", "source"]) if len(frame) else pd.DataFrame()


def brief(read: pd.DataFrame) -> str:
    """A few sentences on the earlier headline with every number counted from ``read`` (:func:`read_reports`):
    what its parser scored, what the same texts say read with negation handled, and what "always normal" scores."""
    counts = headline(read)
    names = {"lanczos": "Lanczos", "swin2sr": "Swin2SR"}
    shown = lambda c: names.get(c, c)  # noqa: E731
    parser = " and ".join(f"{h['parser right']} of {h['reports']} with {shown(c)}" for c, h in counts.items())
    total = sum(h["reports"] for h in counts.values())
    called = sum(h["read pneumonia"] for h in counts.values())
    per = "; ".join(
        f"with {shown(c)} {h['read normal']} conclude normal, {h['read pneumonia']} pneumonia and {h['read uncertain']} "
        f"uncertain ({h['cut off before the verdict']} cut off by the 150-token budget before their verdict): "
        f"{h['right']} of {h['reports']} right, {h['right if uncertain → normal']} if every uncertain reading were normal"
        for c, h in counts.items())
    best = max(max(h["right"], h["right if uncertain → normal"]) for h in counts.values())
    always, cases = max((h["normal cases"], h["reports"]) for h in counts.values())
    verdict = ("no better than always normal" if best <= always else "better than always normal on these ten cases")
    detection = ("no report detects pneumonia" if called == 0 else f"{called} report(s) call pneumonia")
    return (f"its keyword parser's labels give {parser} right — the headline's percentages. Read with negation "
            f"handled, {called or 'not one'} of the {total} reports call{'s' if called <= 1 else ''} pneumonia; {per}. "
            f"\"Always normal\" scores {always} of {cases} on these cases: the reports are {verdict}, and {detection}.")
