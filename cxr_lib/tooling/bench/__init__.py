"""``cxr bench``: where the pipeline's time goes, measured side by side in one run.

The workloads run MedGemma's *real* architecture (Gemma 3 4B: SigLIP at 896×896, 256 image
tokens, 34 decoder layers) built from its configuration with random weights, so nothing is
downloaded. Random weights would make the number of generated tokens arbitrary, so every
generation is fixed in length (``min_new_tokens == max_new_tokens``): the work is the real
model's, the text is meaningless.

Workloads (each a function returning a plain dict; :func:`.run.run_bench` runs them and writes JSON):

- ``prompts``: eight prompts (four strategies × two languages) on one image — the reference loop
  (batch of one, a processor call per prompt, every prompt from scratch) against the engine
  (:mod:`cxr_lib.models.prefix_reuse`: one processor call, the image encoded once, its KV prefix
  reused and the eight prompts' own tokens decoded together), with the outputs compared;
- ``batching``: several images, one prompt, batch 1 against batched (GPU runs and ``--quick``);
- ``scoring``: answer scoring (one forward pass) against generating a report, per image;
- ``bandwidth`` and ``decode``: memory bandwidth measured in the run, decode time per token in
  float32 and with int8 dynamic quantisation of the language model's linear layers (CPU), each
  beside its bound (weight bytes read per token / measured read bandwidth);
- ``swin2sr``: Swin2SR at the real ``caidas/swin2SR-classical-sr-x4-64`` configuration (random
  weights), images per second at batch 1 and batched;
- ``cache``: the result cache — a cold run of the report runner on the stand-in against a warm rerun;
- ``endpoint``: reports per minute through an OpenAI-compatible server (``cxr serve`` and
  ``transformers serve``, started here) at 1, 4 and 16 concurrent requests, against the in-process
  path on the same images, with the reports compared (the stand-in: the serving path's own cost).

``--quick`` scales every model down (a few seconds each) so CI can check that the benchmark runs and
what its JSON looks like; its figures are flagged ``quick`` and are never results.

Modules: :mod:`.configs` (the sizes benched), :mod:`.measure` (timing and the machine),
:mod:`.model` (the random-weight model and its fixed inputs), :mod:`.kernels` (bandwidth, decode
per token, int8), :mod:`.workloads` (one function per workload), :mod:`.run` (the run and its
JSON), :mod:`.report` (the targets and the console summary).
"""
