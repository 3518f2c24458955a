# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Baseline: where the CNN fails, and what MedGemma says there
#
# **Run it in Colab:** the book's launch button (the rocket at the top of the page) opens this notebook from the
# repository the book was built from; choose a GPU runtime, log in to Hugging Face and run all (see Reproduce).
#
# A MaxViT classifier reads PneumoniaMNIST chest X-rays well, but not perfectly. This notebook asks
# whether a medical vision-language model, MedGemma 1.5 4B-IT, can act as a **second opinion** on the
# images the CNN gets wrong — without breaking the ones it gets right. The 28×28 images are upsampled
# with Lanczos to 224×224 (the reference analysis's baseline); MedGemma writes a report; the report's
# label is read with negation and hedging handled, and the sentence that decided is kept as evidence.
#
# **The primary analysis**, fixed before any MedGemma result (see Methods; the CNN's test predictions
# were committed before it): on the whole test split, the CNN alone against the CNN **reviewed by
# MedGemma where it is not confident** — the review cut-off chosen on the validation images whose child
# has no image in train (an amendment dated 2026-12-07, made before any MedGemma result), Lanczos-upsampled images, the `structured` prompt in English — measured as
# the net change in correct calls (corrections − new errors) with its 95% interval (Newcombe, paired)
# and an exact McNemar test. Every other table in this book is **exploratory**: it describes and
# suggests, it does not confirm.
#
# **Overview.** 1) the data; 2) the CNN and its errors; 3) the review cut-off, chosen on validation;
# 4) the case sets; 5) MedGemma's reports and their readings (exploratory); 6) the primary analysis;
# 7) the review per case set (exploratory); 8) the earlier analysis, recomputed from its own reports;
# 9) summary.
#
# **Prerequisites.** A GPU and a Hugging Face login with access to MedGemma for real results (see
# Reproduce); the offline profile runs everything with stand-in models on a CPU.

# %% tags=["parameters"]
data_dir: "Optional[str]" = None  # PneumoniaMNIST folder; None: $CXR_DATA_DIR, then ~/.medmnist
download: "Optional[bool]" = None  # fetch missing data (PneumoniaMNIST) with medmnist into ~/.medmnist; None: in Colab only
results_dir: str = "results/notebooks"  # records cache, predictions and figures go here
cnn_predictions: str = "artifacts/baseline/predictions_test.csv"  # the committed CNN run (real MaxViT)
cnn_validation: str = "artifacts/baseline/predictions_val.csv"  # the same run on validation (checkpoint.json beside it): chooses the review cut-off
cnn_checkpoint: "Optional[str]" = None  # a checkpoint folder to predict with instead of the CSVs
train_cnn_preset: "Optional[str]" = None  # "cpu" or "gpu" to train the CNN now instead (cpu: about 5 min)
vlm_model: str = "google/medgemma-1.5-4b-it"  # hub id or a local folder (a stand-in in the offline profile)
vlm_revision: "Optional[str]" = None  # hub commit to pin; None: the latest, recorded with each result
vlm_endpoint: "Optional[str]" = None  # an OpenAI-compatible server (vLLM, cxr serve) to ask instead, e.g. "http://127.0.0.1:8000/v1"; vlm_model is then the name it serves
endpoint_concurrency: int = 8  # requests in flight at once with vlm_endpoint (the server batches them)
device: "Optional[str]" = None  # "cuda", "cpu", or None for CUDA when available
load_in_4bit: bool = False  # 4-bit weights on CUDA (bitsandbytes) for small GPUs
case_sets: list = ["reference", "cnn-false-positives", "cnn-false-negatives", "cnn-correct-sample", "cnn-review"]  # cxr_lib.data.cases.CASE_SET_NAMES, or cnn-review: every case the review sends to MedGemma
max_cases_per_set: "Optional[int]" = None  # cap each case set (seeded); None: all cases
correct_sample_size: int = 100  # how many CNN-correct cases to sample (to count new errors)
prompt_strategy: str = "structured"  # a strategy of cxr_lib.models.prompts.STRATEGIES (the primary analysis: structured)
language: str = "en"  # en, ar, fr, es, zh, de
max_new_tokens: int = 1024  # generation budget; cut-off reports are counted, not hidden
batch_size: int = 4  # images per generation batch
score: bool = True  # also score P(pneumonia) from the yes/no answer's logits
seed: int = 0  # the one seed: case-set samples and caps, bootstrap resamples, generation
repository: "Optional[str]" = None  # the GitHub repository (owner/name@branch) Colab installs this package from; None: the one Colab opened this notebook from (cxr book sets it)

# %% tags=["remove-cell"]
# In Colab: install this package on Colab's own torch, from `repository`, else from the GitHub repository and branch
# Colab opened this notebook from (the path of its Jupyter session names them). Nothing happens elsewhere.
import json, os, re, subprocess, sys, urllib.parse, urllib.request  # noqa: E401
if "google.colab" in sys.modules and not repository:
    session = json.load(urllib.request.urlopen(f"http://{os.environ['COLAB_JUPYTER_IP']}:{os.environ.get('KMP_TARGET_PORT', '9000')}/api/sessions"))
    opened = re.search(r"github(?:\.com)?/([^/]+/[^/]+)/blob/(.+)/notebooks/", urllib.parse.unquote(session[0]["path"]))
    repository = "@".join(opened.groups()) if opened else sys.exit("Colab did not open this notebook from GitHub: set repository = 'owner/name@branch' in the parameters")
if "google.colab" in sys.modules:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", f"cxr_lib[notebooks,gpu] @ git+https://github.com/{repository}"], check=True)

# %%
import pandas as pd
from IPython.display import Markdown, display

from cxr_lib import study
from cxr_lib.analysis import plots, reference

study.fetch_data(data_dir, download)  # the data, downloaded when `download` allows it
pd.set_option("display.max_colwidth", 120)
display(Markdown(study.model_banner(vlm_model, endpoint=vlm_endpoint)))

# %% [markdown]
# ## The data
#
# PneumoniaMNIST's official test split: 624 chest X-rays of children, 28×28 pixels, labelled normal
# or pneumonia (Kermany et al. 2018, via MedMNIST). Where the files came from, and whether they are
# the official ones, is printed with the counts.

# %%
test = study.load_split("test", data_dir=data_dir)
display(Markdown(study.data_summary(data_dir)))

# %% [markdown]
# ## The CNN and its errors
#
# The classifier is a MaxViT trained by this project (`cxr baseline train --preset cpu`): from scratch
# on the 28×28 training split, model selection on validation AUC, decision threshold chosen on the
# validation split. Its test metrics carry 95% confidence intervals (Wilson for proportions,
# bootstrap for AUC) and stand beside the MedMNIST v2 benchmark. **Only the AUC is like for like**:
# MedMNIST v2's accuracies are at its models' own operating point (the larger softmax output, 0.5),
# this CNN's at the threshold chosen on validation; the next table shows it at both.

# %%
predictions = study.cnn_predictions(cnn_predictions, cnn_checkpoint, train_cnn_preset, results_dir, data_dir, seed)
cutoff = study.review_cutoff(cnn_validation, cnn_checkpoint, train_cnn_preset, results_dir, data_dir)
study.cnn_benchmark(predictions)

# %%
study.cnn_operating_points(predictions, cutoff.threshold)

# %% mystnb={"figure": {"caption": "The CNN's confusion matrix on the test split at the threshold chosen on the validation split.", "name": "fig-cnn-confusion"}}
figure = plots.confusion_matrix_figure(predictions["label"], predictions["pred"], title="MaxViT, test split")

# %% mystnb={"figure": {"caption": "The CNN's ROC curve on the test split.", "name": "fig-cnn-roc"}}
figure = plots.roc_figure(predictions["label"], predictions["prob_pneumonia"], title="MaxViT, test split")

# %% [markdown]
# ## The review cut-off, chosen on validation
#
# MedGemma is consulted only where the CNN is not confident. Confidence is measured from the CNN's
# own threshold, on the logit scale: |logit(p) − logit(t)|, zero at the threshold (a probability of
# 0.5 is not "unsure" for a CNN whose threshold is well below it). The cut-off is chosen on the
# **validation** predictions alone — no test image, no test label and no MedGemma output touches it —
# by a rule fixed in advance: the smallest margin that puts at least 80% of the CNN's validation
# errors under review. **Amendment (2026-12-07, before any MedGemma result):** only the validation
# images whose child has no image in the train split choose it. Kermany's file names identify the
# children; many validation children also have train images, on whose other images the CNN was
# trained, so the full validation split does not measure it on new patients (Methods says what this did
# to the earlier numbers). Validation images without a file name (child unknown) are left out too. The
# table says how many remain.

# %%
cutoff.table()

# %% [markdown]
# **Sensitivity analysis (pre-specified).** The review set's size depends on the share of validation
# errors the rule must reach. The cut-off and the number of test cases it sends to MedGemma at 75%, 80%
# and 90%, on the independent validation images (the amended rule, used above) and on every validation
# image (the rule before the amendment); only the CNN's test probabilities are used, no label and no
# MedGemma output. Below it, the precision each choice has: the size of the review set at 80%, with a
# 95% interval over validation sets resampled by child — few validation errors make a coarse cut-off.

# %%
shares, precision = study.review_shares(predictions, cnn_validation, cnn_checkpoint, train_cnn_preset, results_dir, data_dir)
display(shares)
precision

# %% [markdown]
# ## The case sets
#
# The reference analysis looked at the first ten test images its CNN got wrong. Here the cases are
# every error of this project's CNN — false positives (normal called pneumonia) and false negatives
# apart — plus a seeded sample of cases the CNN got right, because a second opinion that fixes errors
# but also overturns correct calls can do net harm; and `cnn-review`, every test case the review sends
# to MedGemma, which makes the primary analysis exact on the whole test split. The reference
# analysis's ten cases are kept as a set of their own. The error sets and the correct sample are
# **enriched**: each is reported on its own, never pooled into one accuracy.

# %%
cases = study.select_cases(case_sets, test, predictions, cnn_predictions, max_cases_per_set, correct_sample_size, seed, review=cutoff)
display(Markdown(study.case_set_notes(cases)))
study.cases_table(cases, test)

# %% [markdown]
# ## MedGemma's reports on Lanczos-upsampled images (exploratory)
#
# Each image is upsampled 28 → 224 with Lanczos and shown to the model with the chosen prompt;
# decoding is greedy, and every record keeps the model id and revision, prompt, parameters and image
# hash. A reading is right, wrong, or an abstention (*uncertain*, or a report cut off by the token
# budget before its verdict). Per case set: the abstention rate, accuracy with abstentions counted
# wrong, and accuracy among clear calls.

# %%
vlm = study.open_vlm(vlm_model, endpoint=vlm_endpoint, concurrency=endpoint_concurrency, revision=vlm_revision, device=device,
               load_in_4bit=load_in_4bit, lazy=True)  # loads on first use, or asks the server at vlm_endpoint
settings = study.GenerationSettings(max_new_tokens=max_new_tokens, batch_size=batch_size, seed=seed)
lanczos = study.run_condition(vlm, test, study.all_indices(cases), "lanczos", settings=settings, results_dir=results_dir,
                              strategy=prompt_strategy, language=language, score=score)
display(Markdown(study.stand_in_note(lanczos, max_cases_per_set)))
study.condition_summary(lanczos, cases)

# %% [markdown]
# On the CNN's error sets, accuracy is the share of cases where MedGemma disagrees with the CNN *and is
# right*; on the correct sample it is the share where it agrees. A reader should look at the intervals
# before the point estimates: with a few dozen cases they are wide.
#
# How far each number can move with the abstentions: every *uncertain* reading taken as pneumonia,
# and as normal.

# %%
study.uncertain_bounds(lanczos, cases)

# %% [markdown]
# ### Reports and the sentence that decided
#
# The label reader keeps its evidence, so any reading can be checked by eye.

# %%
study.report_excerpts(lanczos, limit=6)

# %% [markdown]
# ## The primary analysis: the CNN alone against the CNN reviewed by MedGemma
#
# On a reviewed case MedGemma's clear call is the final call; an abstention leaves the CNN's call;
# every other case keeps the CNN's call. *Corrections* turn a CNN error into a right call; *new errors*
# overturn a right one. Both readers are compared on the same cases: the net change carries a 95%
# interval (Newcombe's, for paired proportions) and the exact McNemar test. When MedGemma read every
# reviewed case, this is the whole test split and nothing is projected; the `scope` row says which.
# The two right-hand columns are the bounds: every *uncertain* reading taken as pneumonia, and as normal.

# %%
study.primary_review(predictions, lanczos, cutoff, cases)

# %% [markdown]
# ## The review on each case set (exploratory)
#
# The same policy on each set alone. On the error sets only corrections are possible, on the correct
# sample only new errors; these rows show where the net change comes from, and are not estimates for
# the split.

# %%
study.review_by_case_set(predictions, lanczos, cutoff, cases)

# %% [markdown]
# ## The earlier analysis, recomputed from its own reports
#
# The analysis this project re-examines reported MedGemma at 30% on its ten cases with Lanczos, and
# 60% with Swin2SR. Its 20 reports are read here twice: by its keyword parser (the labels it stored)
# and by this package's reader, with the sentence that decided. Its reports were cut at 150 new
# tokens; one that stops mid-sentence before its conclusion is an abstention here. With 9 normal cases
# and 1 pneumonia case, "always normal" scores 9 of 10.

# %%
earlier, earlier_note = study.earlier_analysis(data_dir)
display(Markdown(earlier_note))
reference.headline_table(earlier)

# %% [markdown]
# Each report, with the sentence that decided this reader's call:

# %%
reference.report_table(earlier)

# %% [markdown]
# The same ten cases run here with the earlier prompt (`reference` strategy, verbatim), Lanczos,
# greedy decoding and this notebook's token budget, beside the earlier reports:

# %%
ours = study.run_reference_cases(vlm, test, settings=settings, results_dir=results_dir)
reference.comparison(earlier[earlier["condition"] == "lanczos"], ours)

# %% [markdown]
# ## Summary
#
# - The primary analysis compares the CNN alone with the CNN reviewed by MedGemma on the same cases,
#   with the review cut-off chosen on the validation images independent of train before any MedGemma
#   output was seen; its interval,
#   not its point estimate, is the finding. Everything else here is exploratory.
# - The earlier headline is recomputed from its own reports: its parser's 30% and 60% against what the
#   same texts say when read with negation handled.
# - Every VLM number above comes with its interval, counts abstentions and cut-off reports on their
#   own, shows how far it moves if every uncertain reading were pneumonia or normal, and can be traced
#   to the sentence that decided it.
# - What these numbers do **not** show: anything about adult X-rays, other datasets, or MedGemma's
#   behaviour on full-resolution images (see the super-resolution notebook for the high-resolution
#   control). If the banner at the top says *stand-in*, the VLM numbers test the pipeline only.
