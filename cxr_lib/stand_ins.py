"""Tiny random-weight stand-ins for MedGemma and Swin2SR, built offline from configs.

They are saved to a folder (safetensors) and loaded back through the same ``from_pretrained``
path as the real models, so tests and the offline profile exercise the real loading code.
Every folder carries a marker file; everything a stand-in produces is labelled with
:data:`STAND_IN_LABEL`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

STAND_IN_MARKER = "CXR_STAND_IN.json"
STAND_IN_LABEL = "STAND-IN MODEL (tiny, random weights): output is meaningless, not a finding"


def is_stand_in(model: str | os.PathLike | None) -> bool:
    """Whether ``model`` (a folder path or hub id) is a stand-in built by this module."""
    if model is None:
        return False
    path = Path(model)
    return path.is_dir() and (path / STAND_IN_MARKER).is_file()


def mark_stand_in(folder: str | os.PathLike, kind: str, imitates: str) -> Path:
    """Write the marker file that labels ``folder`` as a stand-in for ``imitates``."""
    from cxr_lib.storage import atomic_write_json

    payload = {"stand_in": True, "kind": kind, "imitates": imitates, "label": STAND_IN_LABEL}
    return atomic_write_json(Path(folder) / STAND_IN_MARKER, payload)


def stand_in_info(folder: str | os.PathLike) -> dict:
    """The marker's contents (empty dict for a real model)."""
    marker = Path(folder) / STAND_IN_MARKER
    return json.loads(marker.read_text()) if marker.is_file() else {}


SWIN2SR_IMITATES = "caidas/swin2SR-classical-sr-x4-64"


def build_swin2sr_stand_in(folder: str | os.PathLike) -> Path:
    """Build a tiny random-weight ×4 Swin2SR (and its image processor) in ``folder``.

    The shape follows the transformers test suite's tiny Swin2SR (image size 32, embed dim 16,
    depths 1-2-1, heads 2-2-4, window 2) with the real model's ×4 pixel-shuffle upsampler, so
    it pads, upsamples and crops exactly as the real one does. Saved as safetensors, marked
    with :data:`STAND_IN_MARKER`; load it with ``cxr_lib.upscale.load_super_resolver(folder)``.
    """
    import torch
    from transformers import Swin2SRConfig, Swin2SRForImageSuperResolution, Swin2SRImageProcessor

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    config = Swin2SRConfig(
        image_size=32, patch_size=1, num_channels=3, embed_dim=16, depths=[1, 2, 1],
        num_heads=[2, 2, 4], window_size=2, mlp_ratio=2.0, upscale=4, upsampler="pixelshuffle",
        img_range=1.0, resi_connection="1conv",
    )
    with torch.random.fork_rng(devices=[]):  # same weights every time, caller's RNG untouched
        torch.manual_seed(0)
        model = Swin2SRForImageSuperResolution(config).eval()
    model.save_pretrained(folder, safe_serialization=True)
    Swin2SRImageProcessor(do_rescale=True, rescale_factor=1 / 255, do_pad=True, size_divisor=8).save_pretrained(folder)
    mark_stand_in(folder, "swin2sr", SWIN2SR_IMITATES)
    return folder


# --------------------------------------------------------------------------- MedGemma stand-in
# Gemma's special tokens, in the order of their ids in the stand-in's vocabulary.
_GEMMA_SPECIAL = ("<pad>", "<eos>", "<bos>", "<unk>", "<mask>", "<start_of_turn>", "<end_of_turn>",
                  "<start_of_image>", "<end_of_image>", "<image_soft_token>")

# A word-level vocabulary so the stand-in's random output reads as (meaningless) words.
_STAND_IN_WORDS = """
yes no Yes No user model system assistant ? ! ' " / * # ** ## Examine Describe Does Is Are Write Please Briefly
please answer Answer one two word words exactly either then state your you You expert concise sections section
show shows English French Spanish Arabic Chinese German keep last line End end whether reading X ray key main
analyze Analyze provide Provide diagnosis suggestions next steps comprehensive including anatomical pathological
normal Normal NORMAL pneumonia Pneumonia PNEUMONIA Final final answer Answer : . , ; ( ) - 1 2 3 4
the a an of in on and or with without is are was were be been there this that these those it its to for as at by
no not none any evidence sign signs finding findings impression Impression Findings conclusion Conclusion
lung lungs left right bilateral lobe lobes upper middle lower zone zones base bases apex apices hilum hila
heart cardiac cardiomediastinal silhouette size contour mediastinum mediastinal aorta trachea diaphragm
pleural effusion effusions pneumothorax consolidation consolidations opacity opacities infiltrate infiltrates
airspace disease atelectasis edema congestion nodule nodules mass masses interstitial markings marking
clear clearly well expanded inflated aerated chest X-ray x-ray radiograph image film view frontal AP PA portable
acute chronic focal diffuse patchy mild moderate severe small large subtle possible possibly likely unlikely
may might could suggest suggests suggestive consistent compatible concerning for represent represents
cannot exclude excluded ruled out seen visible identified noted present absent appears appear within limits
unremarkable stable unchanged increased decreased prominent enlarged borderline costophrenic angle angles sharp
blunting blunted bony structures osseous intact soft tissues tissue dome domes contours overlying
examine describe describes conclude examined recommend recommended follow-up clinical correlation
radiologist report patient pediatric child infant study technique comparison history
""".split()


def _medgemma_chat_template() -> str:
    """A Gemma 3 style chat template: turns, the image marker, and the model's generation prompt."""
    return (
        "{{ bos_token }}"
        "{%- if messages[0]['role'] == 'system' -%}"
        "{%- set first_user_prefix = (messages[0]['content'] if messages[0]['content'] is string "
        "else messages[0]['content'][0]['text']) + '\n\n' -%}"
        "{%- set loop_messages = messages[1:] -%}"
        "{%- else -%}{%- set first_user_prefix = '' -%}{%- set loop_messages = messages -%}{%- endif -%}"
        "{%- for message in loop_messages -%}"
        "{%- set role = 'model' if message['role'] == 'assistant' else message['role'] -%}"
        "{{ '<start_of_turn>' + role + '\n' + (first_user_prefix if loop.first else '') }}"
        "{%- if message['content'] is string -%}{{ message['content'] | trim }}"
        "{%- else -%}{%- for item in message['content'] -%}"
        "{%- if item['type'] == 'image' -%}{{ '<start_of_image>' }}"
        "{%- elif item['type'] == 'text' -%}{{ item['text'] | trim }}{%- endif -%}"
        "{%- endfor -%}{%- endif -%}"
        "{{ '<end_of_turn>\n' }}"
        "{%- endfor -%}"
        "{%- if add_generation_prompt -%}{{ '<start_of_turn>model\n' }}{%- endif -%}"
    )


def _medgemma_tokenizer():
    """A word-level tokenizer with Gemma's special tokens, built offline with ``tokenizers``."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = list(dict.fromkeys(_STAND_IN_WORDS))
    vocab = {token: i for i, token in enumerate(_GEMMA_SPECIAL + tuple(w for w in words if w not in _GEMMA_SPECIAL))}
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation()])
    backend.decoder = decoders.WordPiece(prefix="##", cleanup=True)  # joins words with spaces, tidies punctuation
    backend.add_special_tokens(list(_GEMMA_SPECIAL))
    return PreTrainedTokenizerFast(
        tokenizer_object=backend, bos_token="<bos>", eos_token="<eos>", pad_token="<pad>", unk_token="<unk>",
        mask_token="<mask>", padding_side="left", boi_token="<start_of_image>", eoi_token="<end_of_image>",
        image_token="<image_soft_token>", chat_template=_medgemma_chat_template(),
    )


def build_medgemma_stand_in(folder: str | os.PathLike, *, image_size: int = 64, seed: int = 0) -> Path:
    """Build a tiny random-weight Gemma 3 image-text-to-text model with its processor in ``folder``.

    Same classes as MedGemma (``Gemma3ForConditionalGeneration``, ``Gemma3Processor``), a word-level
    vocabulary of a few hundred radiology words, 16 image tokens per image instead of 256, and
    ``image_size`` × ``image_size`` pixels instead of 896. Loads back with
    ``AutoProcessor`` / ``AutoModelForImageTextToText.from_pretrained(folder)``.
    """
    import torch
    from transformers import (Gemma3Config, Gemma3ForConditionalGeneration, Gemma3ImageProcessor,
                              Gemma3Processor, Gemma3TextConfig, GenerationConfig, SiglipVisionConfig)

    folder = Path(folder)
    tokenizer = _medgemma_tokenizer()
    ids = {tok: tokenizer.convert_tokens_to_ids(tok) for tok in _GEMMA_SPECIAL}
    mm_tokens = 16
    text_config = Gemma3TextConfig(
        vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=2, num_key_value_heads=1, head_dim=32, query_pre_attn_scalar=32,
        max_position_embeddings=2048, sliding_window=64, layer_types=["sliding_attention", "full_attention"],
        pad_token_id=ids["<pad>"], eos_token_id=ids["<eos>"], bos_token_id=ids["<bos>"],
    )
    vision_config = SiglipVisionConfig(
        hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
        image_size=image_size, patch_size=image_size // 16, vision_use_head=False,
    )
    config = Gemma3Config(
        text_config=text_config, vision_config=vision_config, mm_tokens_per_image=mm_tokens,
        boi_token_index=ids["<start_of_image>"], eoi_token_index=ids["<end_of_image>"],
        image_token_index=ids["<image_soft_token>"],
    )
    torch.manual_seed(seed)
    model = Gemma3ForConditionalGeneration(config).eval()
    # Gemma 3 initialises the image projection to zeros, which would make the stand-in blind:
    # give it random weights so different images give different reports and scores.
    with torch.no_grad():
        model.model.multi_modal_projector.mm_input_projection_weight.normal_(0.0, 0.1)
    # Like MedGemma's generation_config: stop at <eos> or <end_of_turn>, greedy unless asked.
    model.generation_config = GenerationConfig(
        bos_token_id=ids["<bos>"], pad_token_id=ids["<pad>"],
        eos_token_id=[ids["<eos>"], ids["<end_of_turn>"]], do_sample=False,
    )
    image_processor = Gemma3ImageProcessor(
        size={"height": image_size, "width": image_size}, image_mean=[0.5, 0.5, 0.5], image_std=[0.5, 0.5, 0.5],
    )
    processor = Gemma3Processor(
        image_processor=image_processor, tokenizer=tokenizer, chat_template=_medgemma_chat_template(),
        image_seq_length=mm_tokens,
    )
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder, safe_serialization=True)
    processor.save_pretrained(folder)
    from cxr_lib.vlm import DEFAULT_MODEL

    mark_stand_in(folder, "medgemma", DEFAULT_MODEL)
    return folder


def build_stand_ins(folder: str | os.PathLike) -> dict[str, Path]:
    """Write ``folder/medgemma`` and ``folder/swin2sr`` stand-ins; return their paths by name."""
    folder = Path(folder)
    return {
        "medgemma": build_medgemma_stand_in(folder / "medgemma"),
        "swin2sr": build_swin2sr_stand_in(folder / "swin2sr"),
    }
