"""The ``cxr`` command: argument parsing and printing only; the work is done in the modules.

Expected failures (:class:`cxr_lib.errors.CxrError`) print one line to stderr and exit 2.
Each command group has an ``_add_<group>`` function (its arguments) and a ``_run_<group>``
function (its handler).
"""

from __future__ import annotations

import argparse
import sys
from typing import Callable, Sequence

from cxr_lib.analysis import cnn_eval, reader
from cxr_lib.analysis.agreement import DEFAULT_CASES, DEFAULT_NEW_TOKENS, check_agreement
from cxr_lib.analysis.conditions import save_case, upscale_index
from cxr_lib.analysis.fidelity import paired_text, run_fidelity, summary_text, write_fidelity
from cxr_lib.analysis.runner import report_for_case
from cxr_lib.app.serve import serve
from cxr_lib.app.ui import build_app, check_port, launch
from cxr_lib.data.datasets import data_summary
from cxr_lib.errors import CxrError, DisagreementError, ParameterError
from cxr_lib.languages import DEFAULT_LANGUAGE, describe as describe_languages
from cxr_lib.models.backends import BACKENDS, backend_name, open_vlm
from cxr_lib.models.prompts import STRATEGIES
from cxr_lib.models.provenance import STAND_IN_LABEL
from cxr_lib.models.stand_ins import build_stand_ins, stand_in_info
from cxr_lib.models.upscale import CONDITIONS, FINAL_RESIZES, INTERPOLATIONS, METHODS
from cxr_lib.models.vlm import DEFAULT_MODEL, GenerationSettings
from cxr_lib.storage import ensure_writable_dir
from cxr_lib.tooling.bench.report import summary_lines
from cxr_lib.tooling.bench.run import run_bench
from cxr_lib.tooling.book import NOTEBOOKS, profile_names, run_book
from cxr_lib.tooling.reruns import rerun
from cxr_lib.tooling.plan import plan_text
from cxr_lib.training import cnn as cnn_training
from cxr_lib.training.hr_reader import train_reader
from cxr_lib.training.super_resolver import train_super_resolver

Handler = Callable[[argparse.Namespace], int]


def _names(names: Sequence[str]) -> str:
    """A registry's names for a help text, read when the parser is built."""
    return ", ".join(names)


# --------------------------------------------------------------------------- data
def _add_data(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="describe the PneumoniaMNIST splits and the high-resolution reference")
    p.add_argument("--data-dir", help="folder holding pneumoniamnist.npz (default: $CXR_DATA_DIR, then ~/.medmnist)")
    p.add_argument("--download", action="store_true", help="download the official files when missing")
    p.set_defaults(handler=_run_data)


def _run_data(args: argparse.Namespace) -> int:
    print("\n".join(data_summary(args.data_dir, args.download)))
    return 0


# --------------------------------------------------------------------------- upscale
def _add_upscale(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("upscale", help="upscale one image with any upscaler (or take the real HR image) and write it to a file")
    p.add_argument("--index", type=int, required=True, help="image index in the split (e.g. 22)")
    p.add_argument("--method", default="swin2sr",
                   help=f"an upscaler: {_names(METHODS)}; or hr (the real 224 image); default swin2sr")
    p.add_argument("--model", help="the model of an upscaler that has one: a Swin2SR hub id or folder (default "
                   "caidas/swin2SR-classical-sr-x4-64; for swin2sr-cxr, the committed artifacts/swin2sr_cxr), or a folder "
                   "of a Real-ESRGAN model's .param/.bin files (default: the wheel's)")
    p.add_argument("--size", type=int, default=224, help="output side in pixels (default 224)")
    p.add_argument("--final-resize", default="lanczos",
                   help=f"filter from a model's 4x output to --size: {_names(FINAL_RESIZES)} (default lanczos)")
    p.add_argument("--rgb", action="store_true", help="write three equal channels instead of grayscale")
    p.add_argument("--split", default="test", help="train, val or test (default test)")
    p.add_argument("--data-dir", help="folder holding the data (default: $CXR_DATA_DIR, then ~/.medmnist)")
    p.add_argument("--out", required=True, help="image file to write (.png records the model in its metadata)")
    p.set_defaults(handler=_run_upscale)


def _run_upscale(args: argparse.Namespace) -> int:
    case = upscale_index(args.index, args.method, args.size, split=args.split, model=args.model, rgb=args.rgb,
                         final_resize=args.final_resize, data_dir=args.data_dir)
    path = save_case(case, args.out)
    print(f"wrote {path}: {case.describe()}")
    if case.is_stand_in:
        print(STAND_IN_LABEL)
    return 0


# --------------------------------------------------------------------------- fidelity
def _add_fidelity(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("fidelity", help="PSNR and SSIM of each upscaler against the real high-resolution images")
    p.add_argument("--methods", default=",".join(INTERPOLATIONS),
                   help=f"comma-separated upscalers: {_names(METHODS)} (default: those without a model, "
                        f"{','.join(INTERPOLATIONS)})")
    p.add_argument("--model", help="Swin2SR hub id or folder, for swin2sr (default caidas/swin2SR-classical-sr-x4-64)")
    p.add_argument("--limit", type=int, help="only the first N test images with a reference (default: all)")
    p.add_argument("--sizes", default="224,112", help="comma-separated sides to compare at (default 224,112)")
    p.add_argument("--data-dir", help="folder holding the data (default: $CXR_DATA_DIR, then ~/.medmnist)")
    p.add_argument("--out", required=True, help="CSV file: one row per image, method and size")
    p.add_argument("--markdown", help="also write the summary table as Markdown to this file")
    p.set_defaults(handler=_run_fidelity)


def _run_fidelity(args: argparse.Namespace) -> int:
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    try:
        sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        raise ParameterError(f"--sizes {args.sizes!r} is not a comma-separated list of numbers, e.g. 224,112") from None
    run = run_fidelity(methods, args.model, args.limit, sizes, args.data_dir)
    written = write_fidelity(run, args.out, args.markdown)
    n = run.table["index"].nunique()
    print(summary_text(run.summary))
    if not run.paired.empty:
        print("\nimage by image, against lanczos:\n" + paired_text(run.paired))
    for method, line in run.models.items():
        print(f"{method}: {line}")
    for method, ms in run.table.drop_duplicates("method").set_index("method")["ms_per_image"].items():
        print(f"{method}: {ms:.1f} ms per image")
    print(f"{n} images × {len(methods)} methods × {len(sizes)} sizes in {run.seconds:.1f} s; "
          f"wrote {', '.join(map(str, written))}")
    return 0


# --------------------------------------------------------------------------- ui
def _add_ui(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ui", help="serve the Gradio app (local only unless --host/--share say otherwise)")
    p.add_argument("--model", help="MedGemma hub id or model folder (e.g. a stand-in folder); with --endpoint, "
                   "the name asked of the server (default: the server's)")
    p.add_argument("--endpoint", help="an OpenAI-compatible server's URL (e.g. http://127.0.0.1:8000/v1: vLLM, "
                   "cxr serve) to make the reports instead of loading the model here; API key from $CXR_ENDPOINT_API_KEY")
    p.add_argument("--backend", help=_backends_help())
    p.add_argument("--sr-model", help="Swin2SR hub id or folder for the swin2sr upscaler (default: the real one, on first use)")
    p.add_argument("--port", type=int, default=7860, help="port to listen on (default 7860)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--share", action="store_true", help="also ask Gradio for a public link (off by default)")
    p.add_argument("--data-dir", help="folder holding pneumoniamnist.npz (default: $CXR_DATA_DIR)")
    p.add_argument("--predictions", help="CNN predictions CSV to show (default: artifacts/baseline/predictions_test.csv if present)")
    p.add_argument("--results", help="folder for the Markdown/JSON downloads (default: a temporary folder)")
    p.set_defaults(handler=_run_ui)


def _run_ui(args: argparse.Namespace) -> int:
    check_port(args.host, args.port)  # fail before the model loads
    model = args.model
    if backend_name(args.endpoint, args.backend) != "in-process":  # it must answer now: an app without its model is no use
        model = open_vlm(args.model, endpoint=args.endpoint, backend=args.backend)
    elif not model:
        raise ParameterError("name the model (--model ID_OR_FOLDER) or a server (--endpoint URL)")
    app = build_app(model, sr_model=args.sr_model, data_dir=args.data_dir,
                    predictions_csv=args.predictions, results_dir=args.results)
    load_error = app.cxr_context.load_error
    if load_error:
        print(f"cxr: warning: {load_error} (the app serves anyway and shows this message)", file=sys.stderr)
    url = launch(app, host=args.host, port=args.port, share=args.share, block=False)
    print(f"cxr ui: serving {app.cxr_context.model} at {url} (Ctrl-C to stop)", flush=True)
    try:
        app.block_thread()
    finally:
        app.close()
    return 0


# --------------------------------------------------------------------------- bench
def _add_bench(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="measure the pipeline's cost at MedGemma's real architecture (random weights)")
    p.add_argument("--out", required=True, help="JSON file to write (rewritten after each workload)")
    p.add_argument("--quick", action="store_true", help="scaled-down models (under a minute, for CI): figures flagged quick, never results")
    p.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    p.add_argument("--only", help="comma-separated workloads (default all): bandwidth,build,prompts,batching,scoring,decode,swin2sr,cache,endpoint")
    p.set_defaults(handler=_run_bench)


def _run_bench(args: argparse.Namespace) -> int:
    only = [w.strip() for w in args.only.split(",") if w.strip()] if args.only else None
    results = run_bench(args.out, quick=args.quick, device=args.device, only=only,
                        log=lambda line: print(line, file=sys.stderr, flush=True))
    print("\n".join(summary_lines(results)))
    print(f"cxr bench: wrote {args.out}")
    return 0


# --------------------------------------------------------------------------- serve
def _add_serve(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="serve a model over an OpenAI-compatible API on this machine (local use; vLLM on GPUs)")
    p.add_argument("model", metavar="MODEL", help="MedGemma hub id or model folder (e.g. a stand-in folder)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")
    p.add_argument("--device", help="cuda or cpu (default: cuda when available)")
    p.add_argument("--revision", help="hub branch, tag or commit")
    p.add_argument("--served-model-name", help="the name clients ask for (default: MODEL as resolved)")
    p.add_argument("--max-batch", type=int, default=8, help="requests run together at most (default 8)")
    p.add_argument("--max-logprobs", type=int, help="most top_logprobs a request may ask for (default: the whole vocabulary)")
    p.set_defaults(handler=_run_serve)


def _run_serve(args: argparse.Namespace) -> int:
    serve(args.model, host=args.host, port=args.port, device=args.device, served_name=args.served_model_name,
          max_batch=args.max_batch, max_logprobs=args.max_logprobs, revision=args.revision,
          log=lambda line: print(line, flush=True))
    return 0


# --------------------------------------------------------------------------- stand-ins
def _add_stand_ins(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("stand-ins", help="build the tiny random-weight MedGemma and Swin2SR stand-ins (offline)")
    p.add_argument("folder", metavar="DIR", help="where to write DIR/medgemma and DIR/swin2sr")
    p.add_argument("--tokenizer", default="auto", choices=["auto", "gemma3", "word-level"],
                   help="MedGemma stand-in's tokenizer: gemma3 (Gemma 3's real one, fetched once from the npm "
                        "registry and cached), word-level (offline), auto (gemma3 when it can be had; default)")
    p.set_defaults(handler=_run_stand_ins)


def _run_stand_ins(args: argparse.Namespace) -> int:
    for name, path in build_stand_ins(ensure_writable_dir(args.folder), tokenizer=args.tokenizer).items():
        tokenizer = stand_in_info(path).get("tokenizer")
        print(f"{name}: {path}" + (f" ({tokenizer} tokenizer)" if tokenizer else ""))
    print(STAND_IN_LABEL)
    return 0


# --------------------------------------------------------------------------- report
def _backends_help() -> str:
    """What --backend offers: every backend of the registry, and the default."""
    offered = "; ".join(f"{name}: {backend.summary}" for name, backend in BACKENDS.items())
    return f"what makes the reports ({offered}); default endpoint with --endpoint, else in-process"


def _add_report(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="one case's MedGemma report, its reading and evidence (cached)")
    p.add_argument("--index", type=int, required=True, help="case index in the split (e.g. 22)")
    p.add_argument("--split", default="test", help="data split (default: test)")
    p.add_argument("--model", help=f"hub id or model folder, e.g. a stand-in (default {DEFAULT_MODEL}; with --endpoint, "
                   "the name asked of the server, default the server's)")
    p.add_argument("--endpoint", help="an OpenAI-compatible server's URL (e.g. http://127.0.0.1:8000/v1: vLLM, "
                   "cxr serve) instead of loading the model here; API key from $CXR_ENDPOINT_API_KEY")
    p.add_argument("--revision", help="hub branch, tag or commit")
    p.add_argument("--backend", help=_backends_help())
    p.add_argument("--upscaler", default="lanczos", help=f"image condition: {_names(CONDITIONS)} (default lanczos)")
    p.add_argument("--size", type=int, default=224, help="side of the image shown to the model (default 224)")
    p.add_argument("--sr-model", help="the model of an --upscaler that has one, as in `cxr upscale --model` (default: its own)")
    p.add_argument("--prompt", default="structured", help=f"prompt strategy: {_names(STRATEGIES)} (default structured)")
    p.add_argument("--custom-prompt", help="your own instruction text instead of the strategy's")
    p.add_argument("--language", default=DEFAULT_LANGUAGE, help=f"answer language, by code or name: {describe_languages()} "
                   f"(default {DEFAULT_LANGUAGE})")
    p.add_argument("--score", action="store_true", help="also give P(pneumonia) from answer scoring")
    p.add_argument("--max-new-tokens", type=int, default=1024, help="token budget of the report (default 1024)")
    p.add_argument("--sample", action="store_true", help="sample instead of greedy decoding (needs --seed)")
    p.add_argument("--temperature", type=float, default=1.0, help="sampling temperature (with --sample)")
    p.add_argument("--top-p", type=float, default=1.0, help="nucleus sampling top-p (with --sample)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--device", help="cuda or cpu (default: cuda when available)")
    p.add_argument("--4bit", dest="load_in_4bit", action="store_true", help="load in 4-bit (CUDA + bitsandbytes)")
    p.add_argument("--results", default="results/reports", help="result cache folder (default results/reports)")
    p.add_argument("--json", action="store_true", help="print the record as JSON")
    p.set_defaults(handler=_run_report)


def _run_report(args: argparse.Namespace) -> int:
    import json


    settings = GenerationSettings(max_new_tokens=args.max_new_tokens, do_sample=args.sample,
                                  temperature=args.temperature, top_p=args.top_p, seed=args.seed, batch_size=1)
    record = report_for_case(
        args.model, args.index, upscaler=args.upscaler, size=args.size, strategy=args.prompt,
        language=args.language, prompt=args.custom_prompt, score=args.score, settings=settings,
        results_dir=args.results, sr_model=args.sr_model, split=args.split, revision=args.revision,
        device=args.device, load_in_4bit=args.load_in_4bit, endpoint=args.endpoint, backend=args.backend,
    )
    if args.json:
        print(json.dumps(record.to_labelled_dict(), indent=2, ensure_ascii=False))
        return 0
    truth = {0: "normal", 1: "pneumonia"}.get(record.truth, "unknown")
    lines = [f"*** {STAND_IN_LABEL} ***"] if record.stand_in else []
    lines += [
        f"case {record.index} ({args.split}, truth: {truth}) · image: {record.condition} · "
        f"prompt: {record.prompt_strategy} / {record.language}",
        f"model: {record.model_id} @ {record.revision}",
        f"made with: {record.configuration}" if not record.legacy else "made with: not recorded (a record from before "
        "records kept their backend, precision and device)",
        "--- report ---",
        record.text or "(empty report)",
        "--- reading ---",
        f"label: {record.label} (rule: {record.rule})",
        f"evidence: {record.evidence or '(none)'}",
    ]
    if record.p_pneumonia is not None:
        lines.append(f"P(pneumonia), answer scoring: {record.p_pneumonia:.4f}"
                     + (f" ({record.score_note})" if record.score_note else ""))
    if record.p_thought is not None:
        lines.append(f"P(thought) at the answer's first token: {record.p_thought:.4f}")
    if record.thought_state != "none":
        how = "never ended: no answer" if record.thought_state == "unclosed" else "ended before the answer"
        lines += [f"--- thought (not part of the report; {how}) ---", record.thought or "(empty)"]
    ending = "cut off at the token budget" if record.stop_reason == "max_new_tokens" else "ended on its own"
    lines.append(f"{record.new_tokens} new tokens ({ending}), {record.prompt_tokens} prompt tokens, {record.seconds:.2f} s")
    if record.stand_in:
        lines.append(f"*** {STAND_IN_LABEL} ***")
    print("\n".join(lines))
    return 0


# --------------------------------------------------------------------------- baseline
def _add_baseline(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("baseline", help="train the MaxViT baseline, or predict a split with a checkpoint")
    steps = p.add_subparsers(dest="baseline_command", required=True, metavar="STEP")
    t = steps.add_parser("train", help="train a MaxViT; write the checkpoint, predictions, metrics and case sets")
    t.add_argument("--preset", default="cpu", help="cpu (small MaxViT from scratch at 32 px, minutes on a CPU) "
                   "or gpu (ImageNet MaxViT-Tiny at 224 px); default cpu")
    t.add_argument("--out", default="results/baseline",
                   help="checkpoint folder (default results/baseline; the committed run is cxr_lib/artifacts/baseline, "
                        "replace it only on purpose)")
    _add_training_options(t, "maximum epochs", "stratified", "images", "validation images")
    pr = steps.add_parser("predict", help="predict a split with a checkpoint; write the CSV (and test case sets)")
    pr.add_argument("--checkpoint", required=True, help="checkpoint folder written by `cxr baseline train`")
    pr.add_argument("--split", default="test", help="train, val or test (default test)")
    pr.add_argument("--out", required=True, help="predictions CSV to write; test case sets go beside it")
    pr.add_argument("--data-dir", help="folder holding pneumoniamnist.npz (default: $CXR_DATA_DIR)")
    p.set_defaults(handler=_run_baseline)


def _run_baseline(args: argparse.Namespace) -> int:
    if args.baseline_command == "train":
        ckpt, val, test = cnn_training.run_training(
            args.preset, args.out, args.seed, args.epochs, args.data_dir, args.train_limit, args.val_limit,
            progress=not args.no_progress)
        print("\n".join(cnn_training.training_summary(ckpt, val, test)))
    else:
        run = cnn_eval.run_prediction(args.checkpoint, args.split, args.out, args.data_dir)
        print("\n".join(run.summary_lines()))
    return 0


def _add_training_options(parser: argparse.ArgumentParser, epochs: str, sampling: str, train: str, val: str) -> None:
    """The options every ``train`` step shares: seed, epochs, quick-check subsets, data folder, progress."""
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--epochs", type=int, help=f"{epochs} (default: the preset's)")
    parser.add_argument("--train-limit", type=int, help=f"train on a {sampling} subset of N {train} (quick checks)")
    parser.add_argument("--val-limit", type=int, help=f"select on a {sampling} subset of N {val}")
    parser.add_argument("--data-dir", help="folder holding the data (default: $CXR_DATA_DIR)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


# --------------------------------------------------------------------------- sr
def _add_sr(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sr", help="train the Swin2SR super-resolver on the chest X-ray train pairs (the swin2sr-cxr upscaler)")
    steps = p.add_subparsers(dest="sr_command", required=True, metavar="STEP")
    t = steps.add_parser("train", help="train Swin2SR ×4 on the real 28→112 train pairs, select on val; write a Swin2SR folder")
    t.add_argument("--preset", default="cpu", help="cpu (a small Swin2SR from scratch, under 20 minutes on 2 CPU cores); default cpu")
    t.add_argument("--out", default="results/swin2sr_cxr",
                   help="model folder (default results/swin2sr_cxr; the committed one is cxr_lib/artifacts/swin2sr_cxr, "
                        "replace it only on purpose)")
    _add_training_options(t, "epochs", "seeded", "pairs", "val pairs")
    p.set_defaults(handler=_run_sr)


def _run_sr(args: argparse.Namespace) -> int:
    run = train_super_resolver(args.preset, args.out, args.seed, args.epochs, args.data_dir, args.train_limit,
                               args.val_limit, progress=not args.no_progress)
    print("\n".join(run.summary_lines()))
    return 0


# --------------------------------------------------------------------------- reader
def _add_reader(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("reader", help="the high-resolution reader: a CNN trained on real 112×112 X-rays, shown upscaled ones")
    steps = p.add_subparsers(dest="reader_command", required=True, metavar="STEP")
    t = steps.add_parser("train", help="train the reader on the real train originals, select and set its threshold on val")
    t.add_argument("--preset", default="cpu", help="cpu (a quarter-width ResNet-18 at 112 px from scratch, minutes); default cpu")
    t.add_argument("--out", default="results/hr_reader",
                   help="reader folder (default results/hr_reader; the committed one is cxr_lib/artifacts/hr_reader)")
    _add_training_options(t, "maximum epochs", "stratified", "images", "val images")
    pr = steps.add_parser("predict", help="the reader's test or val predictions per input (the real original, upscalers)")
    pr.add_argument("--checkpoint", required=True, help="reader folder written by `cxr reader train`")
    pr.add_argument("--split", default="test", help="test (the images with a real original) or val (its 112×112 originals); default test")
    pr.add_argument("--inputs", default=",".join(reader.FAMILY),
                    help=f"comma-separated: hr (the real original) and upscalers ({_names(METHODS)}); "
                         f"default: the family, {','.join(reader.FAMILY)}")
    pr.add_argument("--model", help="Swin2SR hub id or folder for the swin2sr input (default caidas/swin2SR-classical-sr-x4-64)")
    pr.add_argument("--data-dir", help="folder holding the data (default: $CXR_DATA_DIR)")
    pr.add_argument("--out", required=True, help="predictions CSV to write (one row per input and image)")
    p.set_defaults(handler=_run_reader)


def _run_reader(args: argparse.Namespace) -> int:
    if args.reader_command == "train":
        run = train_reader(args.preset, args.out, args.seed, args.epochs, args.data_dir, args.train_limit,
                           args.val_limit, progress=not args.no_progress)
        print("\n".join(run.summary_lines()))
        return 0
    inputs = [i.strip() for i in args.inputs.split(",") if i.strip()]
    frame = reader.run_prediction(args.checkpoint, inputs, args.out, args.model, args.data_dir, args.split)
    print(reader.summary_table(frame).to_string())
    print(f"wrote {args.out}")
    return 0


# --------------------------------------------------------------------------- book
def _add_book(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("book", help="run the three notebooks with a profile, then build the Jupyter Book")
    p.add_argument("--root", default=".", help="the project checkout to build (default: the current folder)")
    p.add_argument("--profile", default="offline",
                   help=f"a profile of <root>/profiles/ by name (here: {_names(profile_names()) or 'none'}), or a profile YAML file; "
                        "default offline")
    p.add_argument("--results", help="results folder (default: <root>/results/<profile name>)")
    p.add_argument("--skip-notebooks", action="store_true", help="only build the book from the executed notebooks")
    p.add_argument("--no-book", action="store_true", help="only run the notebooks")
    p.add_argument("--force", action="store_true", help="rerun the notebooks and rebuild the book even when up to date")
    p.add_argument("--plan", action="store_true", help="print what the profile will run and its estimated GPU time and "
                   "memory on common cards, without loading a model or running anything")
    p.set_defaults(handler=_run_book)


def _run_book(args: argparse.Namespace) -> int:
    if args.plan:
        print(plan_text(args.root, args.profile))
        return 0
    run_book(args.root, args.profile, args.results, skip_notebooks=args.skip_notebooks, no_book=args.no_book,
             force=args.force)
    return 0


# --------------------------------------------------------------------------- rerun
def _add_rerun(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("rerun", help="run one notebook with a profile and parameters of your own, into a folder of its own")
    p.add_argument("notebook", help=f"one of {_names(NOTEBOOKS)}")
    p.add_argument("--profile", default="offline",
                   help=f"a profile of <root>/profiles/ by name (here: {_names(profile_names()) or 'none'}), or a profile YAML file; "
                        "default offline")
    p.add_argument("--parameters", help="a YAML mapping of notebook parameters over the profile's, e.g. 'max_new_tokens: 64'")
    p.add_argument("--out", help="folder for the executed notebook and its results (default: runs/NOTEBOOK)")
    p.add_argument("--root", default=".", help="the project checkout (default: the current folder)")
    p.set_defaults(handler=_run_rerun)


def _run_rerun(args: argparse.Namespace) -> int:
    rerun(args.root, args.notebook, args.profile, args.parameters, args.out)
    return 0


# --------------------------------------------------------------------------- agreement
def _add_agreement(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("agreement", help="compare a server's reports and scores with the same model loaded here, image by image")
    p.add_argument("--endpoint", required=True, help="the OpenAI-compatible server's URL (e.g. http://127.0.0.1:8000/v1); "
                   "API key from $CXR_ENDPOINT_API_KEY")
    p.add_argument("--model", help="the name asked of the server (default: the server's)")
    p.add_argument("--local", help="hub id or model folder to load here (default: the served model's folder or hub id)")
    p.add_argument("--cases", type=int, default=DEFAULT_CASES, help=f"test images compared (default {DEFAULT_CASES})")
    p.add_argument("--max-new-tokens", type=int, default=DEFAULT_NEW_TOKENS,
                   help=f"report budget on both sides (default {DEFAULT_NEW_TOKENS})")
    p.add_argument("--no-score", action="store_true", help="compare reports only (a server without log-probabilities)")
    p.add_argument("--device", help="cuda or cpu for the model loaded here (default: cuda when available)")
    p.add_argument("--out", help="also write the comparison as JSON to this file")
    p.set_defaults(handler=_run_agreement)


def _run_agreement(args: argparse.Namespace) -> int:
    result = check_agreement(args.endpoint, args.model, local_model=args.local, cases=args.cases,
                             max_new_tokens=args.max_new_tokens, device=args.device, score=not args.no_score, out=args.out)
    print(result.table().to_string())
    print("\n".join(result.summary_lines()))
    if not result.agrees:
        raise DisagreementError(result.verdict())
    return 0


# --------------------------------------------------------------------------- parser and entry point
COMMAND_GROUPS: list[Callable[[argparse._SubParsersAction], None]] = [_add_data, _add_upscale, _add_fidelity, _add_ui, _add_bench, _add_serve, _add_stand_ins, _add_report, _add_baseline, _add_sr, _add_reader, _add_book, _add_rerun, _add_agreement]


def build_parser() -> argparse.ArgumentParser:
    """The ``cxr`` argument parser with every command group."""
    parser = argparse.ArgumentParser(prog="cxr", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in COMMAND_GROUPS:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``cxr`` command; return its exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except CxrError as exc:
        print(f"cxr: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("cxr: interrupted; results written so far are kept and a rerun resumes from them", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into a reader that stopped early (e.g. `| head`)
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
