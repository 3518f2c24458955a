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
# # Interactive prompting: strategies, languages, and the app
#
# **Run it in Colab:** the book's launch button (the rocket at the top of the page) opens this notebook from the
# repository the book was built from; choose a GPU runtime, log in to Hugging Face and run all (see Reproduce).
#
# How much does MedGemma's answer depend on how it is asked? This notebook runs every prompt strategy
# in several languages — Arabic included — on a few cases, reads each report with the same
# negation-aware reader, and shows which wording changes the call. It then builds the Gradio app for
# trying prompts by hand (launched only when the `launch_app` parameter asks, so a headless run never
# blocks).
#
# Everything in this notebook is **exploratory**: a few cases, every strategy and language, no test
# and no interval. It shows how much the wording moves a reading; it confirms nothing. The primary
# analysis (one prompt, `structured` in English, fixed in advance) is in the baseline notebook.
#
# **Overview.** 1) the prompt strategies; 2) the grid of readings; 3) a report in Arabic, right to
# left; 4) the app; 5) summary.

# %% tags=["parameters"]
data_dir: "Optional[str]" = None  # PneumoniaMNIST folder; None: $CXR_DATA_DIR, then ~/.medmnist
download: "Optional[bool]" = None  # fetch missing data (PneumoniaMNIST) with medmnist into ~/.medmnist; None: in Colab only
results_dir: str = "results/notebooks"  # records cache goes here
vlm_model: str = "google/medgemma-1.5-4b-it"  # hub id or a local folder (a stand-in in the offline profile)
vlm_revision: "Optional[str]" = None  # hub commit to pin; None: the latest, recorded with each result
vlm_endpoint: "Optional[str]" = None  # an OpenAI-compatible server (vLLM, cxr serve) to ask instead, e.g. "http://127.0.0.1:8000/v1"; vlm_model is then the name it serves
endpoint_concurrency: int = 8  # requests in flight at once with vlm_endpoint (the server batches them)
device: "Optional[str]" = None  # "cuda", "cpu", or None for CUDA when available
load_in_4bit: bool = False  # 4-bit weights on CUDA (bitsandbytes) for small GPUs
cases: list = [22, 1, 9]  # test indices to prompt
strategies: "Optional[list]" = None  # prompt strategies to compare; None: every one of cxr_lib.models.prompts.STRATEGIES
languages: "Optional[list]" = None  # answer languages (codes or names); None: every language the package speaks
upscaler: str = "lanczos"  # how the 28×28 image is brought to 224×224
max_new_tokens: int = 512  # generation budget per report
seed: int = 0  # sampling seed (decoding is greedy by default)
launch_app: bool = False  # start the Gradio app (blocks the notebook; keep False under papermill)
app_port: int = 7860  # port for the app on 127.0.0.1
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
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", f"cxr_lib[ui,notebooks,sr,gpu] @ git+https://github.com/{repository}"], check=True)

# %%
import pandas as pd
from IPython.display import HTML, Markdown, display

from cxr_lib import study

study.fetch_data(data_dir, download)  # the data, downloaded when `download` allows it
pd.set_option("display.max_colwidth", 160)
display(Markdown(study.model_banner(vlm_model, endpoint=vlm_endpoint)))

# %% [markdown]
# ## The prompt strategies
#
# Each strategy, what it asks for, and its English prompt. `reference` is the reference analysis's
# prompt, verbatim; `structured` ends the report with a fixed line (`Final answer: PNEUMONIA` or
# `NORMAL`) that the reader can parse in any language. A non-English prompt adds a line asking for the
# answer in that language.

# %%
study.prompt_strategies()

# %% [markdown]
# ## The grid: strategy × language (exploratory)
#
# Each cell is the label read from one report (greedy decoding, so the grid is reproducible).

# %%
test = study.load_split("test", data_dir=data_dir)
vlm = study.open_vlm(vlm_model, endpoint=vlm_endpoint, concurrency=endpoint_concurrency, revision=vlm_revision, device=device,
               load_in_4bit=load_in_4bit, lazy=True)  # loads on first use, or asks the server at vlm_endpoint
settings = study.GenerationSettings(max_new_tokens=max_new_tokens, seed=seed, batch_size=len(cases))
grid = study.run_prompt_grid(vlm, test, cases, strategies, languages, settings=settings, results_dir=results_dir, condition=upscaler)
display(Markdown(study.stand_in_note(grid)))
study.prompt_grid_labels(grid)

# %% [markdown]
# How often each strategy's reports reach a clear call (the rest are abstentions: *uncertain*, or cut
# off by the token budget before their verdict), and how often they are cut off:

# %%
study.prompt_strategy_summary(grid)

# %% [markdown]
# ## One report in Arabic
#
# Arabic is shown right to left, with the sentence that decided the reading highlighted.

# %%
report, reading = study.example_report(grid, language="ar", strategy="structured")
display(HTML(report), Markdown(reading))

# %% [markdown]
# ## The app
#
# The same engine behind a Gradio page: pick a test image or upload one, choose the upscaler, a prompt
# preset (editable), the language, greedy or sampled decoding, and watch the report stream in with its
# reading and evidence. It listens on 127.0.0.1 and makes no public link unless asked
# (`cxr ui --share`). Set `launch_app = True` to start it from here.

# %%
from cxr_lib.app import ui  # noqa: E402

app = ui.build_app(vlm, data_dir=data_dir, results_dir=results_dir)
if launch_app:
    ui.launch(app, port=app_port)

# %% [markdown]
# ## Summary
#
# - The grid shows how much a reading depends on wording and language; a second opinion whose answer
#   flips with the phrasing is not one to rely on. With a few cases and no interval, it is a reason to
#   fix one prompt in advance, not a ranking of prompts.
# - The `structured` strategy's final line makes readings comparable across languages; free-text
#   reports in other languages are harder to read reliably and are more often *uncertain*.
# - If a banner above says *stand-in*, the reports are random text and test the pipeline only.
