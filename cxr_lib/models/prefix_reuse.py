"""Several prompts on one image: the image is encoded once and its KV prefix reused.

Notebook 3 asks MedGemma every prompt strategy in every language about the same case. The
model card puts the image *before* the text in the user turn, so every one of those prompts
starts with the same tokens: ``<bos>``, the user-turn marker and the 256 image tokens. Their
keys and values (and the vision encoder that produced the image embeddings) do not depend on
what follows, so this module computes them once per image and continues every prompt from a copy
of that KV cache — several prompts at once when ``batch_size`` > 1, so that each decode step reads
the weights once for all of them; each extra prompt then costs only its own text tokens and its
answer. With greedy decoding the outputs are the same as running every prompt from scratch
(tested against :meth:`cxr_lib.models.vlm.VLM.generate`; the remaining difference is float rounding
in the order of the sums, far below any argmax margin seen in practice).

The shared prefix is found from the token ids themselves (their longest common prefix), and it
must contain every image token; a prompt layout that puts text before the image gets no reuse
and is generated the ordinary way.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Sequence

from cxr_lib.errors import GenerationError
from cxr_lib.models.vlm import Generation, finish_generation

if TYPE_CHECKING:  # pragma: no cover
    from cxr_lib.models.vlm import VLM, Generation, GenerationSettings


@dataclass
class PrefixReuseResult:
    """What :func:`generate_with_shared_prefix` did: its generations and where the time went."""

    generations: list["Generation"]
    prefix_tokens: int  # tokens computed once (image included)
    suffix_tokens: list[int]  # each prompt's own tokens, computed per prompt
    prefix_seconds: float  # vision encoder + prefix prefill, once
    prompt_seconds: list[float] = field(default_factory=list)  # each prompt's suffix prefill + decoding
    reused: bool = True  # False when the layout had no shared image prefix (ordinary generation)

    @property
    def seconds(self) -> float:
        """Total wall time for all prompts."""
        return self.prefix_seconds + sum(self.prompt_seconds)


def common_prefix_length(sequences: Sequence[Sequence[int]]) -> int:
    """Length of the longest prefix shared by every sequence of token ids."""
    if not sequences:
        return 0
    shortest = min(len(s) for s in sequences)
    for i in range(shortest):
        first = sequences[0][i]
        if any(s[i] != first for s in sequences[1:]):
            return i
    return shortest


def _image_token_id(model: Any, processor: Any) -> int:
    """The id of the soft image token the vision features replace."""
    config = model.config
    for name in ("image_token_id", "image_token_index"):
        value = getattr(config, name, None)
        if value is not None:
            return int(value)
    return int(processor.tokenizer.image_token_id)


def encode_prompts(vlm: "VLM", image: Any, prompts: Sequence[str]) -> tuple[list[Any], Any, list[Any]]:
    """Token ids (unpadded, one tensor per prompt), the image's pixel values (once), token type ids.

    One processor call through :meth:`cxr_lib.models.vlm.VLM.encode`, so the chat text and the ids are
    exactly those of the reference loop.
    """
    batch = vlm.encode([image] * len(prompts), list(prompts))
    mask = batch["attention_mask"].bool()
    ids = [row[keep] for row, keep in zip(batch["input_ids"], mask)]
    types = batch.get("token_type_ids")
    token_types = [row[keep] for row, keep in zip(types, mask)] if types is not None else [None] * len(ids)
    return ids, batch["pixel_values"][:1], token_types


def generate_with_shared_prefix(
    vlm: "VLM", image: Any, prompts: Sequence[str], settings: "GenerationSettings", *, batch_size: int | None = 1
) -> PrefixReuseResult:
    """Generate one answer per prompt about ``image``, encoding the image and its prefix once.

    Greedy outputs equal those of ``vlm.generate([image], [prompt], settings)`` for each prompt.
    ``batch_size`` prompts continue from the shared prefix together (their own tokens are padded
    *between* the prefix and the text, masked out, and positions follow the mask, so each row sees
    exactly its unpadded sequence): decoding reads the weights once per step for the whole batch,
    which is what makes it cheap on a memory-bound CPU. When a padded row would not fit in the
    model's sliding window (padding would use window slots), prompts run one at a time. Each :class:`~cxr_lib.models.vlm.Generation` carries
    its batch's seconds shared equally plus an equal share of the prefix's.
    """
    import torch


    if not prompts:
        return PrefixReuseResult([], 0, [], 0.0)
    model, processor = vlm.model, vlm.processor
    device = next(model.parameters()).device
    dtype = next(p for p in model.parameters() if p.is_floating_point()).dtype
    started = time.perf_counter()
    ids, pixel_values, token_types = encode_prompts(vlm, image, prompts)
    image_id = _image_token_id(model, processor)
    image_positions = (ids[0] == image_id).nonzero().flatten()
    shared = min(common_prefix_length([row.tolist() for row in ids]), min(len(row) for row in ids) - 1)
    if len(image_positions) == 0 or shared <= int(image_positions[-1]):
        # Text before the image (or no image token): nothing image-sized to share.
        generations = vlm.generate([image] * len(prompts), list(prompts), settings)
        return PrefixReuseResult(
            generations, 0, [len(row) for row in ids], 0.0, [g.seconds for g in generations], reused=False
        )

    eos = vlm.eos_token_ids()
    tokenizer = processor.tokenizer
    gen_kwargs = {**settings.generate_kwargs(), "pad_token_id": tokenizer.pad_token_id}
    with torch.inference_mode(), vlm.compute_threads():
        prefix_ids = ids[0][:shared].unsqueeze(0).to(device)
        prefix_inputs = {
            "input_ids": prefix_ids,
            "attention_mask": torch.ones_like(prefix_ids),
            "pixel_values": pixel_values.to(device=device, dtype=dtype),
            "use_cache": True,
            "logits_to_keep": 1,
        }
        if token_types[0] is not None:
            prefix_inputs["token_type_ids"] = token_types[0][:shared].unsqueeze(0).to(device)
        try:
            prefix_cache = model(**prefix_inputs).past_key_values
        except torch.OutOfMemoryError as exc:  # pragma: no cover - GPU only
            raise GenerationError(
                "out of GPU memory encoding the image prefix: free memory or load the model in 4-bit"
            ) from exc
    prefix_seconds = time.perf_counter() - started  # processor call + vision encoder + prefix prefill

    generations: list[Generation] = []
    prompt_seconds: list[float] = []
    share = prefix_seconds / len(prompts)
    step = max(1, int(batch_size or 1))
    window = getattr(model.config.get_text_config(), "sliding_window", None)
    longest = shared + max(len(row) - shared for row in ids) + settings.max_new_tokens
    if window and longest > window:
        # Padding would take sliding-window slots and change what a row attends to: one at a time.
        step = 1
    for first in range(0, len(ids), step):
        rows = ids[first:first + step]
        start = time.perf_counter()
        with vlm.compute_threads():  # one thread for a tiny model on the CPU, as VLM.generate runs it
            new_rows = _generate_suffixes(model, prefix_cache, rows, shared, device, gen_kwargs, settings.seed)
        seconds = (time.perf_counter() - start) / len(rows)
        # Finished exactly as VLM._generate_batch finishes a row: cut at the first end-of-turn id,
        # the thought split off on its markers' ids.
        for row, new in zip(rows, new_rows):
            generations.append(finish_generation(tokenizer, new, eos, prompt_tokens=len(row), seconds=seconds + share))
            prompt_seconds.append(seconds)
    return PrefixReuseResult(
        generations, shared, [len(row) - shared for row in ids], prefix_seconds, prompt_seconds, reused=True
    )


def _generate_suffixes(model: Any, prefix_cache: Any, rows: Sequence[Any], shared: int, device: Any,
                       gen_kwargs: dict, seed: int | None) -> list[list[int]]:
    """Continue ``rows`` (full token ids, all starting with the ``shared`` cached tokens) together.

    The cache is copied (the prefix is reused by the next batch) and repeated along the batch; each
    row's own tokens are right-aligned, with padding between the prefix and them that the attention
    mask hides. ``generate`` derives positions from that mask, so padding shifts no position.
    """
    import torch

    width = max(len(row) - shared for row in rows)
    pad = gen_kwargs.get("pad_token_id")
    pad = 0 if pad is None else int(pad)
    input_ids = torch.full((len(rows), shared + width), pad, dtype=torch.long)
    mask = torch.zeros_like(input_ids)
    for b, row in enumerate(rows):
        own = row[shared:]
        input_ids[b, :shared] = row[:shared]
        input_ids[b, shared + width - len(own):] = own
        mask[b, :shared] = 1
        mask[b, shared + width - len(own):] = 1
    cache = copy.deepcopy(prefix_cache)
    if len(rows) > 1:
        cache.batch_repeat_interleave(len(rows))
    if seed is not None:
        torch.manual_seed(seed)
    with torch.inference_mode():
        out = model.generate(input_ids=input_ids.to(device), attention_mask=mask.to(device),
                             past_key_values=cache, **gen_kwargs)
    return out[:, shared + width:].tolist()
