"""The three model families of the grid: special tokens and real chat-template formats."""

from __future__ import annotations

from dataclasses import dataclass

# Jinja chat templates in each family's real format (generation prompt included).
LLAMA3_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}"
    "<|start_header_id|>{{ message['role'] }}<|end_header_id|>\n\n{{ message['content'] | trim }}<|eot_id|>"
    "{% endfor %}{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}"
)
GEMMA3_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}"
    "{% set role = 'model' if message['role'] == 'assistant' else message['role'] %}"
    "<start_of_turn>{{ role }}\n{{ message['content'] | trim }}<end_of_turn>\n"
    "{% endfor %}{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}"
)
QWEN3_TEMPLATE = (
    "{% for message in messages %}"
    "<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n<think>\n\n</think>\n\n{% endif %}"
)


@dataclass(frozen=True)
class Family:
    """What differs between model families: architecture, special tokens, chat format."""

    name: str
    architecture: str
    bos: str | None
    eos: str
    pad: str
    end_of_turn: str
    extra_special: tuple[str, ...]
    chat_template: str

    @property
    def special_tokens(self) -> list[str]:
        tokens = [self.bos, self.eos, self.pad, self.end_of_turn, *self.extra_special]
        return list(dict.fromkeys(t for t in tokens if t))


FAMILIES: dict[str, Family] = {
    "llama": Family(
        name="llama",
        architecture="LlamaForCausalLM",
        bos="<|begin_of_text|>",
        eos="<|end_of_text|>",
        pad="<|finetune_right_pad_id|>",
        end_of_turn="<|eot_id|>",
        extra_special=("<|start_header_id|>", "<|end_header_id|>"),
        chat_template=LLAMA3_TEMPLATE,
    ),
    "gemma3": Family(
        name="gemma3",
        architecture="Gemma3ForCausalLM",
        bos="<bos>",
        eos="<eos>",
        pad="<pad>",
        end_of_turn="<end_of_turn>",
        extra_special=("<start_of_turn>",),
        chat_template=GEMMA3_TEMPLATE,
    ),
    "qwen3": Family(
        name="qwen3",
        architecture="Qwen3ForCausalLM",
        bos=None,
        eos="<|endoftext|>",
        pad="<|vision_pad|>",
        end_of_turn="<|im_end|>",
        extra_special=("<|im_start|>", "<think>", "</think>"),
        chat_template=QWEN3_TEMPLATE,
    ),
}


def get_family(name: str) -> Family:
    try:
        return FAMILIES[name]
    except KeyError:
        raise ValueError(f"unknown model family {name!r}; known: {sorted(FAMILIES)}") from None
