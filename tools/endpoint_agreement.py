"""Do the endpoint path's reports and scores equal the in-process ones? Counted on the test split.

``python tools/endpoint_agreement.py [--cases N] [--scored M] [--out FILE]`` builds the MedGemma
stand-in in a temporary folder, starts ``transformers serve`` and ``cxr serve`` on it (127.0.0.1, CPU),
and runs :func:`cxr_lib.analysis.runner.run_reports` on the first N test cases (default: all 624) at the
offline profile's settings — Lanczos to 224, the ``structured`` prompt in English, 48 new tokens,
batches of 4, greedy — in this process and through each server, each into a cache of its own.
It counts equal report texts, labels, stop reasons and token counts (cache keys differ by design:
records name the backend that made them), and, through
``cxr serve`` (transformers serve returns no log-probabilities), P(pneumonia) on the first M cases
(default 100). Writes the counts as JSON (default ``artifacts/endpoint/agreement.json``) and prints
one line per server. Takes about ten minutes on two cores: run it under ``flock``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    from cxr_lib.analysis.conditions import condition_images
    from cxr_lib.analysis.runner import run_reports
    from cxr_lib.app.serve import LocalServer, cxr_serve_command, transformers_serve_command
    from cxr_lib.data.datasets import load_split
    from cxr_lib.models.endpoint import open_endpoint
    from cxr_lib.models.stand_ins import build_medgemma_stand_in, stand_in_info
    from cxr_lib.models.vlm import GenerationSettings, load_vlm
    from cxr_lib.storage import atomic_write_json

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, help="the first N test cases (default: all)")
    parser.add_argument("--scored", type=int, default=100, help="cases whose scores are compared (default 100)")
    parser.add_argument("--out", default=str(ROOT / "cxr_lib" / "artifacts" / "endpoint" / "agreement.json"))
    args = parser.parse_args()

    test = load_split("test")
    indices = list(range(len(test)))[: args.cases]
    images = dict(zip(indices, condition_images(test, indices, "lanczos", 224, rgb=True)))
    truths = {i: test.label(i) for i in indices}
    scored = {i: images[i] for i in indices[: args.scored]}
    settings = GenerationSettings(max_new_tokens=48, batch_size=4)
    columns = ["text", "label", "stop_reason", "new_tokens", "prompt_tokens"]
    summary: dict = {"cases": len(indices), "scored_cases": len(scored), "settings": settings.as_dict(),
                     "condition": "lanczos 224", "prompt": "structured/en"}
    with tempfile.TemporaryDirectory(prefix="cxr-agreement-") as tmp:
        tmp = Path(tmp)
        model = build_medgemma_stand_in(tmp / "stand_ins" / "medgemma")
        summary["model"] = f"the MedGemma stand-in ({stand_in_info(model).get('tokenizer')} tokenizer)"
        started = time.perf_counter()
        local = load_vlm(model, device="cpu")
        reference = run_reports(local, images, truths, condition="lanczos", settings=settings,
                                results_dir=tmp / "in_process", score=False)
        reference_scores = run_reports(local, scored, truths, condition="lanczos", settings=settings,
                                       results_dir=tmp / "in_process", score=True)
        summary["in_process_seconds"] = round(time.perf_counter() - started, 1)
        del local
        servers = {"transformers_serve": lambda port: transformers_serve_command(model, port),
                   "cxr_serve": lambda port: cxr_serve_command(model, port, "--device", "cpu", "--max-batch", "16")}
        for name, command in servers.items():
            with LocalServer.start(command, tmp / f"{name}.log") as server:
                started = time.perf_counter()
                vlm = open_endpoint(server.url, str(model), concurrency=8)
                frame = run_reports(vlm, images, truths, condition="lanczos", settings=settings,
                                    results_dir=tmp / name, score=False)
                row = {"seconds": round(time.perf_counter() - started, 1), "stand_in": bool(frame["stand_in"].all())}
                row.update({f"equal_{c}": int((frame[c] == reference[c]).sum()) for c in columns})
                row["differing_cases"] = [int(i) for i in frame.loc[frame["text"] != reference["text"], "index"]]
                if name == "cxr_serve":
                    scores = run_reports(vlm, scored, truths, condition="lanczos", settings=settings,
                                         results_dir=tmp / name, score=True)
                    diff = (scores["p_pneumonia"] - reference_scores["p_pneumonia"]).abs()
                    row.update(scores_within_1e4=int((diff < 1e-4).sum()), max_score_difference=float(diff.max()))
                vlm.close()
            summary[name] = row
            print(f"{name}: texts {row['equal_text']}/{len(indices)}, labels {row['equal_label']}/{len(indices)}, "
                  f"stop reasons {row['equal_stop_reason']}/{len(indices)}"
                  + (f", scores within 1e-4 {row['scores_within_1e4']}/{len(scored)} (max difference "
                     f"{row['max_score_difference']:.1e})" if "scores_within_1e4" in row else "")
                  + f"; {row['seconds']} s", flush=True)
    atomic_write_json(Path(args.out), summary)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
