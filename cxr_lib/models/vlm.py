"""Loading MedGemma; batched, deterministic report generation; answer-likelihood scoring.

:func:`load_vlm` loads a hub id (default :data:`DEFAULT_MODEL`) or a local folder (e.g. the
stand-in from :mod:`cxr_lib.models.stand_ins`) through ``AutoProcessor`` and
``AutoModelForImageTextToText``. Precision on CUDA is chosen from the GPU
(:mod:`cxr_lib.models.device_plan`: bfloat16 on sm80 and newer; on older GPUs such as the T4, 4-bit
weights with float32 compute), never float16 (Gemma 3 produces empty output in float16); float32 on
CPU unless the processor has native bfloat16 (AMX), because on an AVX2 CPU a bfloat16 matmul is ~500×
slower than float32. What was chosen, and why, is :attr:`VLM.configuration` (one line) and
:meth:`VLM.made_with` (what records and cache keys carry). After loading, a short probe generation
must give text (:mod:`cxr_lib.models.empty_answers`).

:class:`VLM` generates reports in batches with left padding and decodes only the new tokens; greedy
by default, sampling only with an explicit seed. Greedy means greedy whatever the model's own
``generation_config`` says (MedGemma's samples by default: ``do_sample=True, top_k=64,
top_p=0.95``): :meth:`GenerationSettings.generate_kwargs` always passes ``do_sample`` explicitly.
Each :class:`Generation` says whether the model stopped on its own (``"eos"``) or hit the budget
(``"max_new_tokens"``).

**Thoughts.** MedGemma 1.5 can open its turn with a thought (``<unused94>thought…``, closed by
``<unused95>``; see :mod:`cxr_lib.models.thoughts`). Generated token ids are split on those markers'
ids before decoding: :attr:`Generation.text` is the answer only, :attr:`Generation.thought` the
thought, :attr:`Generation.thought_state` ``"none"`` / ``"closed"`` / ``"unclosed"``. An output
that never leaves its thought has an empty answer (:attr:`Generation.thought_only`) and is read
as ``uncertain`` (rule ``thought-only``). :meth:`VLM.stream_updates` streams the answer and the
thought apart, so the app never shows a thought as the report.

:meth:`VLM.score` is answer scoring: one forward pass per image, computing logits at the last position only
(``logits_to_keep=1``), on a yes/no question
(:data:`cxr_lib.models.prompts.SCORE_QUESTION`); the score is the softmax over two logits — the yes-answer
and no-answer tokens at the first position of the model's turn — so P(pneumonia) = P(yes) / (P(yes)
+ P(no)). Each answer's logit is the log-sum-exp over the spellings that are one token in the
model's vocabulary ("yes", "Yes", " yes", " Yes"; the same for "no"), so the score does not depend
on which capitalisation the model prefers. At that position the model may instead start a thought:
:meth:`VLM.score_answers` also reports P(thought), the full-vocabulary probability of
``<unused94>`` there. P(pneumonia) is the yes/no ratio *conditional on answering directly*: the
thought's mass (and every other token's) is left out of it, not spread over yes and no, so a
large P(thought) says the direct answer is not how the model would have replied.

Access tokens are never passed, stored or printed here: ``huggingface_hub`` reads ``HF_TOKEN`` or
the ``huggingface-cli login`` cache itself.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import queue
import re
import sys
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

from cxr_lib.data.images import to_pil
from cxr_lib.errors import GenerationError, ModelLoadError, ParameterError, PromptError, first_line
from cxr_lib.models import cpu_decode, device_plan
from cxr_lib.models.device_plan import refuse_float16, torch_dtype
from cxr_lib.models.empty_answers import probe_answer
from cxr_lib.models.hub import require_cached_or_reachable, unreachable_message
from cxr_lib.models.model_names import LOCAL_REVISION_PREFIX, resolve_model
from cxr_lib.models.prompts import SCORE_QUESTION, build_messages
from cxr_lib.models.thoughts import EndOfOutput, decode_split, marker_ids
from cxr_lib.progress import library_bars_off

DEFAULT_MODEL = "google/medgemma-1.5-4b-it"
#: Answer spellings scored as "yes" (pneumonia) and "no" (normal).
YES_SPELLINGS = ("yes", "Yes", " yes", " Yes")
NO_SPELLINGS = ("no", "No", " no", " No")
#: Generated texts in a stream are shown without a trailing half character (a byte-fallback token).
_PARTIAL_CHAR = "\ufffd"

_CPU_WARNED: set[str] = set()


# --------------------------------------------------------------------------- settings and results
@dataclass(frozen=True)
class GenerationSettings:
    """Decoding parameters; recorded with every result.

    Greedy by default. ``do_sample=True`` needs a ``seed`` (the generator is seeded before each
    batch, so a sampled run is reproducible with the same batch size). ``batch_size`` only changes
    speed for greedy decoding, not the text.
    """

    max_new_tokens: int = 1024
    do_sample: bool = False
    temperature: float = 1.0
    top_p: float = 1.0
    seed: int | None = 0
    batch_size: int = 4
    min_new_tokens: int | None = None

    def __post_init__(self) -> None:
        def _int(name: str, value: Any, low: int) -> None:
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ParameterError(f"{name} must be an integer ≥ {low}, got {value!r}")

        _int("max_new_tokens", self.max_new_tokens, 1)
        _int("batch_size", self.batch_size, 1)
        if not isinstance(self.do_sample, bool):
            raise ParameterError(f"do_sample must be True or False, got {self.do_sample!r}")
        for name, value, low, high in (("temperature", self.temperature, 0.0, 100.0), ("top_p", self.top_p, 0.0, 1.0)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not low < value <= high:
                raise ParameterError(f"{name} must be a number in ({low:g}, {high:g}], got {value!r}")
        if self.seed is not None:
            _int("seed", self.seed, 0)
        if self.do_sample and self.seed is None:
            raise ParameterError("sampling (do_sample=True) needs a seed so the run can be reproduced: pass seed=0 or another integer")
        if self.min_new_tokens is not None:
            _int("min_new_tokens", self.min_new_tokens, 0)
            if self.min_new_tokens > self.max_new_tokens:
                raise ParameterError(
                    f"min_new_tokens ({self.min_new_tokens}) is larger than max_new_tokens ({self.max_new_tokens}): lower it"
                )

    def as_dict(self) -> dict[str, Any]:
        """The settings as a plain dict (what records store and cache keys hash)."""
        return dataclasses.asdict(self)

    def generate_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``model.generate`` (sampling parameters only when sampling)."""
        kwargs: dict[str, Any] = {"max_new_tokens": self.max_new_tokens, "do_sample": self.do_sample}
        if self.do_sample:
            kwargs.update(temperature=float(self.temperature), top_p=float(self.top_p), top_k=None)
        else:
            kwargs.update(temperature=None, top_p=None, top_k=None)
        if self.min_new_tokens:
            kwargs["min_new_tokens"] = self.min_new_tokens
        return kwargs


@dataclass
class Generation(EndOfOutput):
    """One generated report: its text (the answer), why it stopped, token counts, time, and any thought."""

    text: str
    stop_reason: str  # "eos" | "max_new_tokens"
    new_tokens: int
    prompt_tokens: int
    seconds: float
    thought: str = ""  # the thought's text, without its markers and its leading "thought" label
    thought_state: str = "none"  # "none" | "closed" | "unclosed" (cxr_lib.models.thoughts.THOUGHT_STATES)


@dataclass(frozen=True)
class StreamUpdate:
    """What a stream has produced so far: the answer and the thought apart; the last one carries the
    finished :class:`Generation`."""

    answer: str
    thought: str
    thought_state: str
    generation: Generation | None = None


@dataclass(frozen=True)
class AnswerScore:
    """Answer scoring for one image: P(pneumonia) = P(yes) / (P(yes) + P(no)), and P(thought), the
    probability of starting a thought instead (``None`` when the vocabulary has no thought marker)."""

    p_pneumonia: float
    p_thought: float | None
    note: str = ""  # what limited the score, if anything (a server's log-probability cap, unlisted spellings)


def finish_generation(tokenizer: Any, new_ids: Sequence[int], eos: set[int], *, prompt_tokens: int,
                      seconds: float) -> Generation:
    """A :class:`Generation` from one row of generated ids: cut at the first end-of-turn id, split
    into answer and thought on the thought markers' ids, each part decoded without special tokens."""
    row = list(new_ids)
    stop = next((i for i, token in enumerate(row) if token in eos), None)
    kept = row if stop is None else row[:stop]
    split = decode_split(tokenizer, kept)
    return Generation(
        text=split.answer,
        stop_reason="max_new_tokens" if stop is None else "eos",
        new_tokens=len(row) if stop is None else stop + 1,
        prompt_tokens=int(prompt_tokens),
        seconds=seconds,
        thought=split.thought,
        thought_state=split.state,
    )


# --------------------------------------------------------------------------- helpers
def _redact(text: str) -> str:
    """``text`` with any access token (``HF_TOKEN``'s value, ``hf_…`` strings) replaced by ``***``."""
    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HUGGINGFACE_HUB_TOKEN"):
        value = os.environ.get(name)
        if value:
            text = text.replace(value, "***")
    return re.sub(r"hf_[A-Za-z0-9]{8,}", "***", text)


def _warn_cpu(model_id: str, dtype: Any) -> None:
    if model_id in _CPU_WARNED:
        return
    _CPU_WARNED.add(model_id)
    warnings.warn(
        f"running {model_id} on the CPU in {str(dtype).replace('torch.', '')}: expect ~20 GB of RAM, about a minute "
        "to read each image and about a second per generated token on a small CPU (several minutes per report); "
        "use a CUDA GPU for more than a few images, or answer scoring (one forward pass per image)",
        RuntimeWarning,
        stacklevel=4,
    )


def _explain_load_error(model: str, exc: BaseException) -> str:
    """One line saying why ``model`` did not load and what to do."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    names = {type(e).__name__ for e in chain}
    text = " ".join(str(e) for e in chain)
    if "GatedRepoError" in names or "gated repo" in text.lower() or "restricted" in text.lower():
        return (f"{model} is gated: accept the terms on its model page ({'https://huggingface.co/' + model}), then run "
                "`huggingface-cli login` or set HF_TOKEN")
    if "RepositoryNotFoundError" in names or "is not a local folder and is not a valid model identifier" in text:
        return (f"{model} is not a model on the Hugging Face Hub (or you are not allowed to see it): check the id, "
                "or log in with `huggingface-cli login` / HF_TOKEN")
    if names & {"LocalEntryNotFoundError", "ConnectionError", "OfflineModeIsEnabled"} or "couldn't connect" in text.lower():
        return unreachable_message(model)
    if "Unrecognized configuration class" in text or "Unrecognized model" in text:
        return f"{model} is not an image-text-to-text model (e.g. MedGemma): pass a MedGemma id or folder"
    if "RevisionNotFoundError" in names:
        return f"revision not found for {model}: check the branch, tag or commit"
    return f"could not load {model}: {_redact(first_line(exc))[:200]}"


def _is_oom(exc: BaseException) -> bool:
    return type(exc).__name__ == "OutOfMemoryError" or "out of memory" in str(exc).lower()


# --------------------------------------------------------------------------- the model
@dataclass(eq=False)
class VLM:
    """An image-text-to-text model with its processor, and where it came from.

    Built by :func:`load_vlm`. With ``lazy=True`` the weights load on first use, so a run answered
    entirely from the result cache never loads them.
    """

    model_id: str
    revision: str | None
    is_stand_in: bool
    device: str | None = None  # None until a lazy VLM loads: then CUDA when available, else CPU
    dtype: Any = None  # None until planned: then see load_vlm
    load_in_4bit: bool = False
    source: str | None = None  # where the weights come from (hub id or folder); default model_id
    attention: str = "sdpa"  # the attention implementation asked of transformers
    device_kind: str | None = None  # "cpu" or "cuda <name> (sm<NN>)", once planned
    configuration: str = ""  # one line: device, precision, attention, batch limit, and why
    max_batch: int | None = None  # the largest generation batch that fits (CUDA), once planned
    _model: Any = field(default=None, repr=False)
    _processor: Any = field(default=None, repr=False)
    _lock: Any = field(default_factory=threading.Lock, repr=False)
    _planned: bool = field(default=False, repr=False)
    _device_config: Any = field(default=None, repr=False)

    # ---- loading
    @property
    def loaded(self) -> bool:
        return self._model is not None

    @property
    def model(self) -> Any:
        self.load()
        return self._model

    @property
    def processor(self) -> Any:
        self.load()
        return self._processor

    def _source_revision(self) -> tuple[str, str | None]:
        """Where to load from, and the revision to ask the hub for (none for a local folder)."""
        revision = None if (self.revision or "").startswith(LOCAL_REVISION_PREFIX) else self.revision
        return self.source or self.model_id, revision

    def load(self) -> None:
        """Load the weights (once), then check with a short probe that the model answers with text."""
        with self._lock:
            if self._model is not None:
                return
            import torch
            from transformers import AutoConfig, AutoModelForImageTextToText, AutoProcessor

            self._plan()
            if self.device == "cpu":
                cpu_decode.wanted()  # a bad $CXR_CPU_GEMV fails before minutes of loading, not after
            source, revision = self._source_revision()
            if not Path(source).is_dir():
                require_cached_or_reachable(source, revision)
            kwargs: dict[str, Any] = {"revision": revision, "dtype": self.dtype, "attn_implementation": self.attention}
            if self.load_in_4bit:
                kwargs.update(quantization_config=_four_bit_config(self.dtype), device_map={"": self.device})
            quiet = library_bars_off() if Path(source).is_dir() else contextlib.nullcontext()
            try:
                with quiet:  # a local folder: no download to follow, and no bar inside the caller's
                    config = AutoConfig.from_pretrained(source, revision=revision)
                    model = AutoModelForImageTextToText.from_pretrained(source, **kwargs)
                    processor = AutoProcessor.from_pretrained(source, revision=revision)
                if not self.load_in_4bit:
                    model = model.to(self.device)
            except Exception as exc:  # turned into one line; the cause stays chained
                if _is_oom(exc):
                    raise ModelLoadError(
                        f"out of GPU memory loading {self.model_id}: free the GPU, use load_in_4bit=True (--4bit), or a larger GPU"
                    ) from exc
                raise ModelLoadError(_explain_load_error(self.model_id, exc)) from exc
            if not hasattr(processor, "tokenizer") or not hasattr(processor, "image_processor"):
                raise ModelLoadError(f"{self.model_id} has no image processor and tokenizer: pass an image-text-to-text model such as MedGemma")
            processor.tokenizer.padding_side = "left"
            torch.manual_seed(0)
            if self.device == "cpu":
                cpu_decode.install(model)  # batch-1 decode steps through OpenBLAS (float32 only)
            self._model = model.eval()
            self._processor = processor
            if self.revision is None:
                self.revision = getattr(config, "_commit_hash", None)
            if self.device == "cpu" and not self.is_stand_in:
                _warn_cpu(self.model_id, self.dtype)
        self.check_answers()

    def check_answers(self) -> None:
        """A short generation on a plain image must give text; else :class:`~cxr_lib.errors.EmptyAnswerError`
        (and the weights are dropped, so nothing runs on a model that answers with nothing)."""

        def generate(image: Any, prompt: str, tokens: int) -> Generation:
            return self._generate_batch([image], [prompt], GenerationSettings(max_new_tokens=tokens, batch_size=1))[0]

        try:
            probe_answer(generate, f"{self.model_id} ({self.configuration})")
        except Exception:
            self._model = None
            raise

    def compute_threads(self) -> contextlib.AbstractContextManager:
        """The PyTorch threads this model's passes run with (:meth:`_cpu_threads`), restored after."""
        return _threads(self._cpu_threads())

    def _cpu_threads(self) -> int | None:
        """1 for a tiny model on the CPU (thread hand-offs cost more than its matmuls), else None."""
        if str(self.model.device) != "cpu":
            return None
        size = sum(p.numel() for p in self.model.parameters())
        return 1 if size < 20_000_000 else None

    def _plan(self) -> None:
        """Settle the device, precision, quantisation and batch limit (see :func:`load_vlm`), without the
        weights: records are keyed by them before anything loads."""
        if self._planned:
            return
        import torch

        if self.device is None:
            self.device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = str(self.device)
        if self.device.startswith("cuda") and not torch.cuda.is_available():
            raise ModelLoadError(f"device {self.device!r} asked for but no CUDA GPU is available: use device='cpu'")
        if self.load_in_4bit and not self.device.startswith("cuda"):
            raise ParameterError("4-bit loading needs a CUDA GPU: drop load_in_4bit (--4bit) on the CPU")
        if self.device.startswith("cuda"):
            explicit = None if self.dtype is None else str(torch_dtype(self.device, self.dtype)).replace("torch.", "")
            chosen = device_plan.choose(device_plan.detect_gpu(self.device), self._shape(),
                                        dtype=explicit, load_in_4bit=self.load_in_4bit or None)
            self.dtype = torch_dtype(self.device, chosen.dtype)
            self.load_in_4bit, self.attention, self.max_batch = chosen.load_in_4bit, chosen.attention, chosen.max_batch
            self.device_kind, self.configuration, self._device_config = chosen.device_kind, chosen.line(), chosen
            print(f"cxr: {self.model_id} on {chosen.line()}", file=sys.stderr, flush=True)
        else:
            self.dtype = torch_dtype(self.device, self.dtype)
            self.device_kind = "cpu"
            self.configuration = f"cpu: {str(self.dtype).replace('torch.', '')}, {self.attention} attention"
        self._planned = True

    def _shape(self) -> "device_plan.ModelShape":
        """The model's shape from its ``config.json`` (read without the weights)."""
        from transformers import AutoConfig

        source, revision = self._source_revision()
        try:
            config = AutoConfig.from_pretrained(source, revision=revision)
        except Exception as exc:
            raise ModelLoadError(_explain_load_error(self.model_id, exc)) from exc
        return device_plan.ModelShape.from_config(config.to_dict())

    def batch_for(self, requested: int) -> int:
        """The generation batch to run when ``requested`` is asked for: at most what fits on the GPU."""
        self._plan()
        return requested if self._device_config is None else self._device_config.batch_for(requested)

    def made_with(self) -> dict[str, str]:
        """How this model's outputs are made — backend, dtype, quantisation, attention, device kind —
        for records and their keys (settled without loading the weights)."""
        self._plan()
        return {"backend": "in-process", "server": "", "dtype": str(self.dtype).replace("torch.", ""),
                "quantization": "bitsandbytes-nf4" if self.load_in_4bit else "none", "attention": self.attention,
                "device_kind": self.device_kind or "cpu"}

    # ---- inputs
    def encode(self, images: Sequence[Any], prompts: Sequence[str]) -> Any:
        """One processor call: the chat texts (image first, then the prompt) and pixels, left-padded, on the model's device."""
        processor = self.processor
        texts = [processor.apply_chat_template(build_messages(p), add_generation_prompt=True, tokenize=False) for p in prompts]
        pil = [[to_pil(image).convert("RGB")] for image in images]  # a uint8 array or a PIL image
        # The chat template already starts with <bos>: add no special tokens a second time.
        batch = processor(text=texts, images=pil, padding=True, return_tensors="pt", add_special_tokens=False)
        batch = batch.to(self.model.device)
        if "pixel_values" in batch and self.dtype is not None:
            batch["pixel_values"] = batch["pixel_values"].to(self.dtype)
        return batch

    def eos_token_ids(self) -> set[int]:
        """Token ids that end a turn (the generation config's eos and ``<end_of_turn>``)."""
        ids = self.model.generation_config.eos_token_id
        ids = [ids] if isinstance(ids, int) else list(ids or [])
        tokenizer = self.processor.tokenizer
        for token in ("<end_of_turn>", tokenizer.eos_token):
            token_id = tokenizer.convert_tokens_to_ids(token) if token else None
            if isinstance(token_id, int) and token_id != tokenizer.unk_token_id:
                ids.append(token_id)
        return set(ids)

    def _check_batch(self, images: Sequence[Any], prompts: Sequence[str]) -> None:
        if len(images) != len(prompts):
            raise ParameterError(f"{len(images)} images but {len(prompts)} prompts: pass one prompt per image")
        for prompt in prompts:
            if not isinstance(prompt, str) or not prompt.strip():
                raise PromptError("the prompt is empty: write a question or instruction, or pick a strategy")

    # ---- generation
    def generate(
        self, images: Sequence[Any], prompts: Sequence[str], settings: GenerationSettings | None = None
    ) -> list[Generation]:
        """Reports for ``images`` (one prompt each), in batches of ``settings.batch_size``.

        Left padding, only the new tokens decoded. ``seconds`` is each batch's time shared equally
        among its images.
        """
        settings = settings or GenerationSettings()
        self._check_batch(images, prompts)
        results: list[Generation] = []
        for start in range(0, len(images), settings.batch_size):
            results += self._generate_batch(
                images[start:start + settings.batch_size], prompts[start:start + settings.batch_size], settings
            )
        return results

    def _generate_batch(self, images: Sequence[Any], prompts: Sequence[str], settings: GenerationSettings) -> list[Generation]:
        import torch

        self.load()  # a lazy model's loading time is not the report's
        started = time.perf_counter()
        batch = self.encode(images, prompts)
        tokenizer = self.processor.tokenizer
        if settings.seed is not None:
            torch.manual_seed(settings.seed)
        try:
            with torch.inference_mode(), self.compute_threads():
                output = self.model.generate(**batch, **settings.generate_kwargs(), pad_token_id=tokenizer.pad_token_id)
        except Exception as exc:
            if _is_oom(exc):
                raise GenerationError(
                    f"out of GPU memory generating {len(images)} report(s): lower the batch size (batch_size) or load in 4-bit"
                ) from exc
            raise
        seconds = (time.perf_counter() - started) / len(images)
        prompt_len = batch["input_ids"].shape[1]
        eos = self.eos_token_ids()
        return [finish_generation(tokenizer, row, eos, prompt_tokens=int(sum(mask)), seconds=seconds)
                for row, mask in zip(output[:, prompt_len:].tolist(), batch["attention_mask"].tolist())]

    def stream(self, image: Any, prompt: str, settings: GenerationSettings | None = None) -> Iterator[str]:
        """Generate one report, yielding the growing answer as tokens arrive (a thought is not shown)."""
        shown = ""
        for update in self.stream_updates(image, prompt, settings):
            if update.answer and update.answer != shown:
                shown = update.answer
                yield shown

    def stream_updates(self, image: Any, prompt: str, settings: GenerationSettings | None = None) -> Iterator[StreamUpdate]:
        """Generate one report, yielding the answer and the thought apart as tokens arrive (for the UI).

        Token ids are split on the thought markers as they come (:mod:`cxr_lib.models.thoughts`), so a
        thought never appears in the answer, even while it is unclosed. The last update carries the
        finished :class:`Generation`, equal to what :meth:`generate` returns for the same input.
        """
        import torch
        from transformers.generation.streamers import BaseStreamer

        settings = settings or GenerationSettings()
        self._check_batch([image], [prompt])
        self.load()
        started = time.perf_counter()
        batch = self.encode([image], [prompt])
        tokenizer = self.processor.tokenizer
        eos = self.eos_token_ids()
        pieces: queue.Queue = queue.Queue()

        class _IdStreamer(BaseStreamer):
            """Passes each step's new token ids (the prompt's skipped) to the caller's thread."""

            def __init__(self) -> None:
                self.prompt_seen = False

            def put(self, value: Any) -> None:
                if not self.prompt_seen:
                    self.prompt_seen = True
                    return
                pieces.put(value.reshape(-1).tolist())

            def end(self) -> None:
                pieces.put(None)

        streamer = _IdStreamer()
        failure: list[BaseException] = []

        def work() -> None:
            try:
                if settings.seed is not None:
                    torch.manual_seed(settings.seed)
                with torch.inference_mode(), self.compute_threads():
                    self.model.generate(**batch, **settings.generate_kwargs(), pad_token_id=tokenizer.pad_token_id,
                                        streamer=streamer)
            except BaseException as exc:  # surfaced in the caller's thread below
                failure.append(exc)
                streamer.end()

        thread = threading.Thread(target=work, daemon=True)
        thread.start()
        row: list[int] = []
        shown: tuple[str, str, str] | None = None
        while True:
            try:
                piece = pieces.get(timeout=600.0)
            except queue.Empty:
                break
            if piece is None:
                break
            ended = any(token in eos for token in row)
            row += piece
            if ended:
                continue
            stop = next((i for i, token in enumerate(row) if token in eos), len(row))
            split = decode_split(tokenizer, row[:stop])
            now = (split.answer.rstrip(_PARTIAL_CHAR).strip(), split.thought.rstrip(_PARTIAL_CHAR).strip(), split.state)
            if now != shown:
                shown = now
                yield StreamUpdate(*now)
        thread.join()
        if failure:
            if _is_oom(failure[0]):
                raise GenerationError("out of GPU memory generating a report: load in 4-bit or free the GPU") from failure[0]
            raise failure[0]
        generation = finish_generation(tokenizer, row, eos, prompt_tokens=int(batch["attention_mask"].sum()),
                                       seconds=time.perf_counter() - started)
        yield StreamUpdate(generation.text, generation.thought, generation.thought_state, generation)

    # ---- scoring
    def answer_token_ids(self) -> tuple[list[int], list[int]]:
        """Token ids scored as "yes" and as "no" (spellings that are one token in this vocabulary)."""
        tokenizer = self.processor.tokenizer

        def ids(spellings: Sequence[str]) -> list[int]:
            found = []
            for spelling in spellings:
                encoded = tokenizer.encode(spelling, add_special_tokens=False)
                if len(encoded) == 1 and encoded[0] != tokenizer.unk_token_id and encoded[0] not in found:
                    found.append(encoded[0])
            return found

        yes, no = ids(YES_SPELLINGS), ids(NO_SPELLINGS)
        if not yes or not no:
            raise GenerationError(f"{self.model_id}'s vocabulary has no single-token 'yes'/'no': answer scoring needs them")
        return yes, no

    def score(self, images: Sequence[Any], batch_size: int = 8) -> list[float]:
        """P(pneumonia) for each image from one forward pass on :data:`~cxr_lib.models.prompts.SCORE_QUESTION`."""
        return [answer.p_pneumonia for answer in self.score_answers(images, batch_size)]

    def score_answers(self, images: Sequence[Any], batch_size: int = 8) -> list[AnswerScore]:
        """P(pneumonia) and P(thought) for each image from one forward pass (see the module docstring)."""
        import torch

        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ParameterError(f"batch_size must be an integer ≥ 1, got {batch_size!r}")
        yes, no = self.answer_token_ids()
        thought_id, _ = marker_ids(self.processor.tokenizer)
        scores: list[AnswerScore] = []
        for start in range(0, len(images), batch_size):
            chunk = images[start:start + batch_size]
            batch = self.encode(chunk, [SCORE_QUESTION] * len(chunk))
            try:
                with torch.inference_mode(), self.compute_threads():
                    # left padding: the last position is real; only its logits are computed (the output
                    # head over every position of a 260-token prompt would be most of the work)
                    logits = self.model(**batch, logits_to_keep=1).logits[:, -1, :].float()
            except Exception as exc:
                if _is_oom(exc):
                    raise GenerationError(f"out of GPU memory scoring {len(chunk)} image(s): lower batch_size or load in 4-bit") from exc
                raise
            pair = torch.stack([torch.logsumexp(logits[:, no], dim=-1), torch.logsumexp(logits[:, yes], dim=-1)], dim=-1)
            p_yes = torch.softmax(pair, dim=-1)[:, 1].tolist()
            if thought_id is not None and thought_id < logits.shape[-1]:
                p_thought = torch.softmax(logits, dim=-1)[:, thought_id].tolist()
            else:
                p_thought = [None] * len(p_yes)
            scores += [AnswerScore(p, t) for p, t in zip(p_yes, p_thought)]
        return scores


@contextlib.contextmanager
def _threads(n: int | None) -> Iterator[None]:
    """Run with ``n`` intra-op threads (``None``: leave as is), then restore the previous setting."""
    import torch

    if n is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _four_bit_config(compute_dtype: Any) -> Any:
    """NF4 weights computing in ``compute_dtype`` (float32 on GPUs without native bfloat16; see
    :mod:`cxr_lib.models.device_plan`)."""
    from transformers import BitsAndBytesConfig

    try:
        import bitsandbytes  # noqa: F401
    except ImportError as exc:
        raise ModelLoadError("4-bit loading needs bitsandbytes: pip install bitsandbytes (CUDA only)") from exc
    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=compute_dtype)


def load_vlm(
    model: str | os.PathLike = DEFAULT_MODEL,
    *,
    revision: str | None = None,
    device: str | None = None,
    dtype: Any = None,
    load_in_4bit: bool = False,
    lazy: bool = False,
) -> VLM:
    """Load MedGemma (or a compatible folder, e.g. the stand-in) for generation and scoring.

    ``device``: default CUDA when available, else CPU. ``dtype`` and ``load_in_4bit``: on CUDA chosen
    from the GPU's capability and memory unless given (:mod:`cxr_lib.models.device_plan`: bfloat16 on
    sm80 and newer, 4-bit weights with float32 compute on older GPUs), float32 on a CPU without native
    bfloat16; float16 is refused. 4-bit needs CUDA and bitsandbytes. ``lazy=True`` checks the name now
    and loads the weights on first use. A local folder is named by its folder name and content
    digest (:mod:`cxr_lib.models.model_names`). Raises :class:`ModelLoadError` (gated, not cached and
    offline, not such a model, out of memory) and :class:`~cxr_lib.errors.EmptyAnswerError` when a
    short probe generation after loading shows no text.
    """
    ref = resolve_model(model, revision)
    refuse_float16(dtype)
    if load_in_4bit and device is not None and not str(device).startswith("cuda"):
        raise ParameterError("4-bit loading needs a CUDA GPU: drop load_in_4bit (--4bit) on the CPU")
    vlm = VLM(model_id=ref.name, revision=ref.revision, is_stand_in=ref.stand_in, source=ref.source,
              device=None if device is None else str(device), dtype=dtype, load_in_4bit=bool(load_in_4bit))
    if not lazy:
        vlm.load()
    return vlm
