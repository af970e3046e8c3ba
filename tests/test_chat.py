"""The prompt/answer texts shared by training and generation, for every family and variant."""

from __future__ import annotations

import pytest
from transformers import AutoTokenizer

from pipeline.models.chat import ANSWER_HEADER, encode, format_example, format_prompt, is_chat
from pipeline.models.families import get_family

PROMPT = "Extract the diseases. Text: fever and cough"
ANSWER = '{"entities": ["fever", "cough"]}'
FAMILIES = ["llama", "gemma3", "qwen3"]


@pytest.mark.parametrize("family", FAMILIES)
def test_instruct_uses_the_chat_template(tiny_model_factory, family):
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_factory(family, "instruct"))
    fam = get_family(family)
    assert is_chat(tokenizer)
    prompt_text, completion_text = format_example(tokenizer, PROMPT, ANSWER)
    assert prompt_text == format_prompt(tokenizer, PROMPT)
    assert prompt_text == tokenizer.apply_chat_template(
        [{"role": "user", "content": PROMPT}], tokenize=False, add_generation_prompt=True
    )
    # The answer is followed by exactly what the template writes after an assistant message.
    assert completion_text.startswith(ANSWER)
    assert completion_text[len(ANSWER) :].strip() == fam.end_of_turn


@pytest.mark.parametrize("family", FAMILIES)
def test_base_uses_the_plain_form(tiny_model_factory, family):
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_factory(family, "base"))
    fam = get_family(family)
    assert not is_chat(tokenizer)
    prompt_text, completion_text = format_example(tokenizer, PROMPT, ANSWER)
    assert prompt_text == format_prompt(tokenizer, PROMPT) == f"{fam.bos or ''}{PROMPT}{ANSWER_HEADER}"
    assert completion_text == ANSWER + fam.eos


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("variant", ["instruct", "base"])
def test_encode_keeps_one_bos(tiny_model_factory, family, variant):
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_factory(family, variant))
    text = format_prompt(tokenizer, PROMPT)
    ids = encode(tokenizer, text)
    assert tokenizer.decode(ids) == text
    bos = tokenizer.bos_token_id
    assert ids.count(bos) == (0 if bos is None else 1)
    assert bos is None or ids[0] == bos


def test_template_trimming_is_kept(tiny_model_factory):
    # The Llama 3 template trims message content; the completion must be what the template renders.
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_factory("llama", "instruct"))
    _, completion_text = format_example(tokenizer, PROMPT, f"  {ANSWER}\n")
    assert completion_text == ANSWER + "<|eot_id|>"


def test_qwen3_prompt_keeps_the_empty_thought_block(tiny_model_factory):
    # The generation prompt holds an empty <think> block that the rendered conversation drops;
    # training uses the generation prompt, i.e. the context the model sees at inference.
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_factory("qwen3", "instruct"))
    prompt_text, completion_text = format_example(tokenizer, PROMPT, ANSWER)
    assert prompt_text.endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")
    assert completion_text == ANSWER + "<|im_end|>\n"


def test_template_that_repeats_the_answer_is_rejected(tiny_model_factory):
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_factory("llama", "instruct"))
    tokenizer.chat_template = (
        "{% for m in messages %}{{ m['content'] }}|{{ m['content'] }}{% endfor %}"
        "{% if add_generation_prompt %}>{% endif %}"
    )
    with pytest.raises(ValueError, match="exactly once"):
        format_example(tokenizer, PROMPT, ANSWER)


@pytest.mark.parametrize("variant", ["base", "instruct"])
def test_cued_prompt_gets_no_second_header(tiny_model_factory, variant):
    """A k-shot prompt ending in its own cue is continued as is: no "### Answer:" after "Explanation:"."""
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_factory("llama", variant))
    text = format_prompt(tokenizer, "Question: q\nA. x\nB. y\nExplanation:", header=False)
    assert "### Answer:" not in text
    if variant == "base":
        assert text.endswith("B. y\nExplanation:")


def test_thinking_reaches_templates_with_a_switch(tiny_model_factory):
    """Qwen3-style `enable_thinking`: off by default (an empty thought block), on when asked."""
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_factory("qwen3", "instruct"))
    tokenizer.chat_template = (
        "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
        "{% if add_generation_prompt %}<|im_start|>assistant\n"
        "{% if not enable_thinking %}<think>\n\n</think>\n\n{% endif %}{% endif %}"
    )
    assert format_prompt(tokenizer, PROMPT).endswith("<think>\n\n</think>\n\n")
    assert format_prompt(tokenizer, PROMPT, thinking=True).endswith("<|im_start|>assistant\n")
