"""Tiny models of the real architectures, random init, with a tokenizer trained locally.

The demo needs no network: each family's real `transformers` architecture is built
with a tiny config, and a byte-level BPE tokenizer is trained on the demo text.
The "instruct" variant carries the family's chat template; the "base" variant none.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from pipeline.io import atomic_dir, strings_in
from pipeline.models.families import Family, get_family


def train_tokenizer(texts: Iterable[str], family: Family, vocab_size: int) -> Any:
    """Train a byte-level BPE tokenizer and wrap it as a `PreTrainedTokenizerFast`."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=family.special_tokens,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    if family.bos:
        from tokenizers import processors

        tokenizer.post_processor = processors.TemplateProcessing(
            single=f"{family.bos} $A",
            pair=f"{family.bos} $A $B",
            special_tokens=[(family.bos, tokenizer.token_to_id(family.bos))],
        )
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token=family.bos,
        eos_token=family.eos,
        pad_token=family.pad,
        additional_special_tokens=[
            t for t in family.special_tokens if t not in (family.bos, family.eos, family.pad)
        ],
        model_max_length=4096,
        padding_side="left",
    )


def model_config(family: Family, vocab_size: int, tokenizer: Any, arch: dict[str, int]) -> Any:
    """The family's real config class with tiny dimensions."""
    from transformers import Gemma3TextConfig, LlamaConfig, Qwen3Config

    common = dict(
        vocab_size=vocab_size,
        hidden_size=arch["hidden_size"],
        intermediate_size=arch["intermediate_size"],
        num_hidden_layers=arch["num_layers"],
        num_attention_heads=arch["num_heads"],
        num_key_value_heads=arch["num_kv_heads"],
        head_dim=arch["hidden_size"] // arch["num_heads"],
        max_position_embeddings=arch["max_position_embeddings"],
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=[tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids(family.end_of_turn)],
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
        initializer_range=arch.get("initializer_range", 0.02),
    )
    if family.name == "llama":
        return LlamaConfig(**common)
    if family.name == "qwen3":
        return Qwen3Config(**common)
    return Gemma3TextConfig(**common, sliding_window=arch["max_position_embeddings"])


def build_tiny_model(
    texts: Iterable[str],
    family_name: str,
    variant: str,
    arch: dict[str, int],
    seed: int,
    output_dir: str | Path,
) -> None:
    """Build, randomly initialise and save one tiny model as a normal HF checkpoint."""
    import torch
    from transformers import AutoModelForCausalLM

    family = get_family(family_name)
    tokenizer = train_tokenizer(texts, family, arch["vocab_size"])
    if variant == "instruct":
        tokenizer.chat_template = family.chat_template
    config = model_config(family, len(tokenizer), tokenizer, arch)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = config.eos_token_id
    with atomic_dir(output_dir) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        (tmp / "medadapt_model.json").write_text(
            json.dumps(
                {"family": family.name, "variant": variant, "architecture": arch, "seed": seed}, indent=2
            )
        )


def iter_texts(paths: Iterable[Path]) -> Iterator[str]:
    """Every string value found in JSONL files and every line of other text files."""
    for path in paths:
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            if path.suffix == ".jsonl" and line.strip():
                yield from strings_in(json.loads(line))
            elif line.strip():
                yield line
