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
# **[Open in Colab](https://colab.research.google.com/github/OWNER/cxr-second-opinion/blob/main/notebooks/01_baseline.ipynb)** (GPU runtime; see Reproduce)
#
# A MaxViT classifier reads PneumoniaMNIST chest X-rays well, but not perfectly. This notebook asks
# whether a medical vision-language model, MedGemma 1.5 4B-IT, can act as a **second opinion** on the
# images the CNN gets wrong — without breaking the ones it gets right. The 28×28 images are upsampled
# with Lanczos to 224×224 (the reference analysis's baseline); MedGemma writes a report; the report's
# label is read with negation and hedging handled, and the sentence that decided is kept as evidence.
#
# **Overview.** 1) the data; 2) the CNN and its errors; 3) the case sets; 4) MedGemma's reports and
# their readings; 5) the second-opinion analysis; 6) the reference analysis's ten cases; 7) summary.
#
# **Prerequisites.** A GPU and a Hugging Face login with access to MedGemma for real results (see
# Reproduce); the offline profile runs everything with stand-in models on a CPU.

# %% tags=["remove-cell"]
# On Colab: install the package on top of Colab's own torch (nothing happens elsewhere).
import subprocess, sys  # noqa: E401
if "google.colab" in sys.modules:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "cxr_lib[ui,notebooks] @ git+https://github.com/OWNER/cxr-second-opinion"], check=True)

# %% tags=["parameters"]
data_dir: "Optional[str]" = None  # PneumoniaMNIST folder; None: $CXR_DATA_DIR, then ~/.medmnist
results_dir: str = "results/notebooks"  # records cache, predictions and figures go here
cnn_predictions: str = "artifacts/baseline/predictions_test.csv"  # the committed CNN run (real MaxViT)
cnn_checkpoint: "Optional[str]" = None  # a checkpoint folder to predict with instead of the CSV
train_cnn_preset: "Optional[str]" = None  # "cpu" or "gpu" to train the CNN now instead (cpu: about 5 min)
vlm_model: str = "google/medgemma-1.5-4b-it"  # hub id or a local folder (a stand-in in the offline profile)
vlm_revision: "Optional[str]" = None  # hub commit to pin; None: the latest, recorded with each result
device: "Optional[str]" = None  # "cuda", "cpu", or None for CUDA when available
load_in_4bit: bool = False  # 4-bit weights on CUDA (bitsandbytes) for small GPUs
case_sets: list = ["reference", "cnn-false-positives", "cnn-false-negatives", "cnn-correct-sample"]  # see data.CASE_SET_NAMES
max_cases_per_set: "Optional[int]" = None  # cap each case set (seeded); None: all cases
correct_sample_size: int = 100  # how many CNN-correct cases to sample (to count new errors)
prompt_strategy: str = "structured"  # reference | zero-shot | radiologist | structured
language: str = "en"  # en, ar, fr, es, zh, de
max_new_tokens: int = 1024  # generation budget; cut-off reports are counted, not hidden
batch_size: int = 4  # images per generation batch
score: bool = True  # also score P(pneumonia) from the yes/no answer's logits
seed: int = 0  # seeds for sampling case sets and any stochastic step

# %%
import pandas as pd
from IPython.display import HTML, Markdown, display

from cxr_lib import baseline, data, evaluate, plots, study
from cxr_lib.vlm import GenerationSettings, load_vlm

pd.set_option("display.max_colwidth", 120)
display(Markdown(study.model_banner(vlm_model)))

# %% [markdown]
# ## The data
#
# PneumoniaMNIST's official test split: 624 chest X-rays of children, 28×28 pixels, labelled normal
# or pneumonia (Kermany et al. 2018, via MedMNIST). Where the files came from, and whether they are
# the official ones, is printed with the counts.

# %%
test = data.load_split("test", data_dir=data_dir)
display(Markdown("\n".join(f"- {line}" for line in data.data_summary(data_dir))))

# %% [markdown]
# ## The CNN and its errors
#
# The classifier is a MaxViT trained by this project (`cxr baseline train --preset cpu`): from scratch
# on the 28×28 training split, model selection on validation AUC, decision threshold chosen on the
# validation split. Its test metrics carry 95% confidence intervals (Wilson for proportions,
# bootstrap for AUC) and stand beside the MedMNIST v2 benchmark.

# %%
predictions = study.cnn_predictions(cnn_predictions, cnn_checkpoint, train_cnn_preset, results_dir, data_dir, seed)
cnn_metrics = baseline.evaluate_frame(predictions)
baseline.benchmark_table(cnn_metrics).round(3)

# %% mystnb={"figure": {"caption": "The CNN's confusion matrix on the test split at the threshold chosen on the validation split.", "name": "fig-cnn-confusion"}}
figure = plots.confusion_matrix_figure(predictions["label"], predictions["pred"], title="MaxViT, test split")

# %% mystnb={"figure": {"caption": "The CNN's ROC curve on the test split.", "name": "fig-cnn-roc"}}
figure = plots.roc_figure(predictions["label"], predictions["prob_pneumonia"], title="MaxViT, test split")

# %% [markdown]
# ## The case sets
#
# The reference analysis looked at the first ten test images its CNN got wrong. Here the cases are
# every error of this project's CNN — false positives (normal called pneumonia) and false negatives
# apart — plus a seeded sample of cases the CNN got right, because a second opinion that fixes errors
# but also overturns correct calls can do net harm. The reference analysis's ten cases are kept as a
# set of their own.

# %%
cases = study.select_cases(case_sets, test, predictions, cnn_predictions, max_cases_per_set, correct_sample_size, seed)
study.cases_table(cases, test)

# %% [markdown]
# ## MedGemma's reports on Lanczos-upsampled images
#
# Each image is upsampled 28 → 224 with Lanczos and shown to the model with the chosen prompt;
# decoding is greedy, the budget is large enough not to cut reports off (those that are cut off are
# counted), and every record keeps the model id and revision, prompt, parameters and image hash.
# Accuracy, sensitivity and specificity count an *uncertain* reading as wrong; it is never dropped.

# %%
vlm = load_vlm(vlm_model, revision=vlm_revision, device=device, load_in_4bit=load_in_4bit, lazy=True)  # loads on first use
settings = GenerationSettings(max_new_tokens=max_new_tokens, batch_size=batch_size, seed=seed)
lanczos = study.run_condition(vlm, test, study.all_indices(cases), "lanczos", settings=settings, results_dir=results_dir,
                              strategy=prompt_strategy, language=language, score=score)
evaluate.condition_summary(study.label_case_sets(lanczos, cases), by="case_set")

# %% [markdown]
# On the CNN's error sets, accuracy is the share of cases where MedGemma disagrees with the CNN *and is
# right*; on the correct sample it is the share where it agrees. A reader should look at the intervals
# before the point estimates: with a few dozen cases they are wide.
#
# ### Reports and the sentence that decided
#
# The label reader keeps its evidence, so any reading can be checked by eye.

# %%
study.report_excerpts(lanczos, limit=6)

# %% [markdown]
# ## MedGemma as a second opinion
#
# Two review policies: the VLM's clear call replaces the CNN's wherever they disagree, or only where
# the CNN is not confident (max probability below 0.9). An uncertain reading never overrides.
# *Corrections* turn a CNN error into a right call; *new errors* overturn a right one.

# %%
study.second_opinion_table(predictions, lanczos, cases)

# %% [markdown]
# Projected onto the whole test split — corrections measured on the CNN's errors, new errors on the
# sample of cases it got right, each rate with its Wilson interval:

# %%
study.projected_second_opinion(predictions, lanczos, cases)

# %% [markdown]
# ## The reference analysis's ten cases
#
# The analysis this project replaces reported MedGemma at 30% on these ten cases (60% with Swin2SR).
# Its keyword parser read "no obvious signs of pneumonia" as pneumonia; read with negation handled,
# its own reports give 9 of 10 in both runs (all normals right, index 22 missed). With 9 normal and
# 1 pneumonia case, "always normal" also scores 9 of 10: ten cases this unbalanced cannot tell a
# model that sees pneumonia from one that never calls it.

# %%
evaluate.reference_comparison(lanczos, data.REFERENCE_CASES)

# %% [markdown]
# ## Summary
#
# - The CNN's errors and a sample of its correct calls are the cases, so both the help and the harm of
#   a second opinion are measured.
# - Every VLM number above comes with its interval, counts uncertain and cut-off reports, and can be
#   traced to the sentence that decided it.
# - What these numbers do **not** show: anything about adult X-rays, other datasets, or MedGemma's
#   behaviour on full-resolution images (see the super-resolution notebook for the high-resolution
#   control). If the banner at the top says *stand-in*, the VLM numbers test the pipeline only.
