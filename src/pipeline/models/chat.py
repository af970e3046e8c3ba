"""The text a model sees for a prompt and the answer it is taught: one form for training and generation.

The model's variant decides the form (`load_tokenizer`): instruct models get the prompt as a user turn and
the answer as the assistant turn, exactly as their own template renders it (thinking modes such as Qwen3's
``enable_thinking`` off unless asked); base models get a plain-text form, even when their tokenizer ships
a chat template:
``{bos}{prompt}\\n\\n### Answer:\\n`` then ``{completion}{eos}``. A prompt that already ends in its own
answer cue (the k-shot multiple-choice styles, ending in ``Answer:`` or ``Explanation:``) gets no header
(``header=False``): the base model continues it exactly as RPO trained it to.

The texts carry every special token they need (BOS included), so they are tokenized with
``add_special_tokens=False`` — use `encode`, which training uses too: a model is trained on
``encode(prompt_text) + encode(completion_text)`` and generates from ``encode(format_prompt(...))``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.models.record import read_model_record

ANSWER_HEADER = "\n\n### Answer:\n"
THINK_START, THINK_END = "<think>", "</think>"
_SENTINEL = "MEDADAPTCOMPLETIONSENTINEL"


def load_tokenizer(model_dir: str | Path) -> Any:
    """The tokenizer of a grid model folder, with the chat template only when its variant is instruct."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    variant = read_model_record(model_dir)["variant"]
    if variant == "base":
        tokenizer.chat_template = None
    elif not tokenizer.chat_template:
        raise ValueError(f"{model_dir}: an instruct model whose tokenizer has no chat template")
    return tokenizer


def is_chat(tokenizer: Any) -> bool:
    """Whether the model is an instruct model, i.e. its tokenizer has a chat template."""
    return bool(getattr(tokenizer, "chat_template", None))


def format_prompt(tokenizer: Any, prompt: str, header: bool = True, thinking: bool = False) -> str:
    """What the model sees before generating its answer to `prompt` (the user message content).

    `header=False`: a base model's prompt ends where `prompt` ends (it carries its own answer cue).
    `thinking` reaches templates with a thinking switch (Qwen3's ``enable_thinking``); others ignore it.
    """
    if is_chat(tokenizer):
        return tokenizer.apply_chat_template(
            [{"role": "user", "content": prompt}],
            tokenize=False,
            add_generation_prompt=True,
            enable_thinking=thinking,
        )
    return f"{tokenizer.bos_token or ''}{prompt}{ANSWER_HEADER if header else ''}"


def format_example(tokenizer: Any, prompt: str, completion: str) -> tuple[str, str]:
    """(prompt_text, completion_text): the prompt as in `format_prompt`, the answer with its end-of-turn text.

    For chat models the completion is the assistant content as the template renders it (e.g. trimmed)
    followed by what the template writes after it (the end-of-turn token); for base models it ends in EOS.
    """
    prompt_text = format_prompt(tokenizer, prompt)
    if not is_chat(tokenizer):
        return prompt_text, f"{completion}{tokenizer.eos_token}"
    head, tail = _assistant_frame(tokenizer, prompt)
    full = _render(tokenizer, prompt, completion)
    if not (full.startswith(head) and full.endswith(tail) and len(full) >= len(head) + len(tail)):
        raise ValueError(
            "the chat template renders the assistant turn differently for different answers; "
            "cannot separate the answer from the turn markup"
        )
    return prompt_text, full[len(head) : len(full) - len(tail)] + tail


def encode(tokenizer: Any, text: str) -> list[int]:
    """Token ids of a text from `format_prompt`/`format_example` (which already holds its special tokens)."""
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def _render(tokenizer: Any, prompt: str, completion: str) -> str:
    messages = [{"role": "user", "content": prompt}, {"role": "assistant", "content": completion}]
    return tokenizer.apply_chat_template(messages, tokenize=False, enable_thinking=False)


def _assistant_frame(tokenizer: Any, prompt: str) -> tuple[str, str]:
    """The rendered conversation before and after the assistant content."""
    rendered = _render(tokenizer, prompt, _SENTINEL)
    if rendered.count(_SENTINEL) != 1:
        raise ValueError("the chat template does not render the assistant message content exactly once")
    head, tail = rendered.split(_SENTINEL)
    return head, tail


def split_thinking(text: str) -> tuple[str | None, str]:
    """(thinking, answer) of a completion: a `<think>…</think>` block (or everything before a lone
    `</think>`, when the prompt opened the block) is removed before parsing; None when there is none."""
    head, sep, tail = text.partition(THINK_END)
    if not sep:
        return None, text
    return head.replace(THINK_START, "", 1).strip(), tail.lstrip()
