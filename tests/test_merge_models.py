"""The merge stage on tiny real checkpoints: against mergekit, the CLI, sharding, refusals."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from pipeline.merge import merge_models
from pipeline.merge.__main__ import main
from pipeline.merge.checkpoint import Checkpoint
from pipeline.models.tiny import build_tiny_model
from pipeline.provenance import RUN_RECORD, code_state

pytest.importorskip("mergekit")

TEXTS = [
    "The patient was given 20 mg of aspirin for chest pain.",
    "Il paziente presenta febbre e dolore addominale.",
    "El paciente refiere cefalea y náuseas.",
] * 20
FILTERED_T = {
    "default": 0.5,
    "filters": [
        {"filter": "self_attn", "value": [0, 0.5, 0.3, 0.7, 1]},
        {"filter": "mlp", "value": [1, 0.5, 0.7, 0.3, 0]},
    ],
}


def perturbed_copy(source: Path, target: Path, seed: int) -> Path:
    """A "fine-tuned" model: the source with seeded Gaussian noise on every tensor."""
    shutil.copytree(source, target)
    tensors = load_file(source / "model.safetensors")
    g = torch.Generator().manual_seed(seed)
    noisy = {n: t + 0.02 * torch.randn(t.shape, generator=g) for n, t in tensors.items()}
    save_file(noisy, target / "model.safetensors", metadata={"format": "pt"})
    return target


@pytest.fixture(scope="module")
def family_models(tmp_path_factory, tiny_arch):
    """family -> (base, fine-tuned 1, fine-tuned 2), 4 layers so gradients interpolate."""
    built: dict[str, tuple[Path, Path, Path]] = {}

    def make(family: str) -> tuple[Path, Path, Path]:
        if family not in built:
            root = tmp_path_factory.mktemp(f"merge-{family}")
            build_tiny_model(TEXTS, family, "instruct", {**tiny_arch, "num_layers": 4}, 0, root / "base")
            built[family] = (
                root / "base",
                perturbed_copy(root / "base", root / "ft1", 1),
                perturbed_copy(root / "base", root / "ft2", 2),
            )
        return built[family]

    return make


def mergekit_merge(config: dict, out: Path, dtype: str = "float32") -> dict[str, torch.Tensor]:
    from mergekit.config import MergeConfiguration
    from mergekit.merge import run_merge
    from mergekit.options import MergeOptions

    config = {"dtype": "float32", "out_dtype": dtype, **config}
    options = MergeOptions(quiet=True, copy_tokenizer=False, write_model_card=False)
    run_merge(MergeConfiguration.model_validate(config), str(out), options)
    return load_file(out / "model.safetensors")


def ours(base: Path, models: list[Path], out: Path, settings: dict) -> dict[str, torch.Tensor]:
    merge_models(base, models, out, settings)
    return load_file(out / "model.safetensors")


def assert_same_tensors(
    a: dict[str, torch.Tensor], b: dict[str, torch.Tensor], atol: float = 1e-6, rtol: float = 0
) -> None:
    assert a.keys() == b.keys()
    for name in a:
        torch.testing.assert_close(a[name], b[name], atol=atol, rtol=rtol, msg=lambda m, n=name: f"{n}: {m}")


@pytest.mark.parametrize("family", ["llama", "qwen3"])
@pytest.mark.parametrize("t", [0.3, [0, 0.5, 0.3, 0.7, 1], FILTERED_T], ids=["scalar", "gradient", "filters"])
def test_slerp_matches_mergekit(family_models, tmp_path, family, t):
    base, ft1, _ = family_models(family)
    theirs_t = t
    if isinstance(t, dict):
        theirs_t = [*t["filters"], {"value": t["default"]}]
    config = {
        "merge_method": "slerp",
        "base_model": str(base),
        "models": [{"model": str(base)}, {"model": str(ft1)}],
        "parameters": {"t": theirs_t},
    }
    theirs = mergekit_merge(config, tmp_path / "mergekit")
    mine = ours(base, [ft1], tmp_path / "ours", {"method": "slerp", "t": t, "dtype": "float32"})
    assert_same_tensors(mine, theirs)


def test_slerp_records_resolved_t(family_models, tmp_path):
    base, ft1, _ = family_models("llama")
    merge_models(base, [ft1], tmp_path / "out", {"method": "slerp", "t": FILTERED_T})
    tensors = json.loads((tmp_path / "out" / "merge_parameters.json").read_text())["tensors"]
    assert tensors["model.embed_tokens.weight"] == {"t": 0.5}
    assert tensors["model.layers.0.self_attn.q_proj.weight"] == {"t": 0.0}
    # layer 1 of 4 sits at 1/3 of the 5-point gradient: between 0.5 and 0.3, a third of the way
    assert tensors["model.layers.1.self_attn.q_proj.weight"]["t"] == pytest.approx(0.5 - 0.2 / 3)
    assert tensors["model.layers.3.mlp.up_proj.weight"] == {"t": 0.0}
    assert tensors["model.layers.2.input_layernorm.weight"] == {"t": 0.5}


def test_slerp_bfloat16_output_matches_mergekit(family_models, tmp_path):
    base, ft1, _ = family_models("qwen3")
    config = {"merge_method": "slerp", "base_model": str(base), "models": [{"model": str(ft1)}]}
    theirs = mergekit_merge({**config, "parameters": {"t": 0.4}}, tmp_path / "mk", dtype="bfloat16")
    mine = ours(base, [ft1], tmp_path / "ours", {"method": "slerp", "t": 0.4, "dtype": "bfloat16"})
    assert all(t.dtype == torch.bfloat16 for t in mine.values())
    # float32 results ~1e-8 apart can round to neighbouring bfloat16 values: one ulp is at most 2**-7 relative
    assert_same_tensors(mine, theirs, atol=0, rtol=2**-7)
    same = sum(int((mine[n] == theirs[n]).sum()) for n in mine) / sum(t.numel() for t in mine.values())
    assert same > 0.999
    assert json.loads((tmp_path / "ours" / "config.json").read_text())["dtype"] == "bfloat16"


GTA_CASES = {
    "task_arithmetic": ({"weight": 0.7, "lambda": 0.8}, [{}, {"weight": 0.4}]),
    "ties": ({"weight": 1.0, "density": [0.2, 0.9]}, [{"density": 0.5}, {"weight": 0.6}]),
    "ties-unnormalized": ({"weight": 0.8, "density": 0.3, "normalize": False, "rescale": True}, [{}, {}]),
    "dare_ties": ({"weight": 1.0, "density": 1.0}, [{}, {"weight": 0.5}]),
    "dare_linear": ({"weight": 0.6, "density": 1.0}, [{}, {}]),
}


@pytest.mark.parametrize("family", ["llama", "qwen3"])
@pytest.mark.parametrize("case", sorted(GTA_CASES))
def test_task_arithmetic_family_matches_mergekit(family_models, tmp_path, family, case):
    """DARE only at density 1 here: mergekit draws its masks from torch's global RNG in its
    own task order, which no per-tensor seeding can reproduce; dropping is tested for
    determinism and statistics instead."""
    base, ft1, ft2 = family_models(family)
    method = case.split("-")[0]
    shared, per_model = GTA_CASES[case]
    config = {
        "merge_method": method,
        "base_model": str(base),
        "models": [{"model": str(m), "parameters": p} for m, p in zip([ft1, ft2], per_model, strict=True)],
        "parameters": shared,
    }
    theirs = mergekit_merge(config, tmp_path / "mk")
    settings = {"method": method, **shared, "model_parameters": per_model, "dtype": "float32"}
    assert_same_tensors(ours(base, [ft1, ft2], tmp_path / "ours", settings), theirs)


def test_linear_matches_mergekit(family_models, tmp_path):
    base, ft1, ft2 = family_models("llama")
    weights = [0.5, 0.3, 0.2]
    config = {
        "merge_method": "linear",
        "models": [
            {"model": str(m), "parameters": {"weight": w}}
            for m, w in zip([base, ft1, ft2], weights, strict=True)
        ],
    }
    theirs = mergekit_merge(config, tmp_path / "mk")
    settings = {
        "method": "linear",
        "base_parameters": {"weight": 0.5},
        "model_parameters": [{"weight": 0.3}, {"weight": 0.2}],
    }
    assert_same_tensors(ours(base, [ft1, ft2], tmp_path / "ours", settings), theirs)


def test_dare_is_seeded_and_drops_the_requested_share(family_models, tmp_path):
    base, ft1, _ = family_models("llama")
    settings = {"method": "dare_linear", "weight": 1.0, "density": 0.3, "rescale": False, "seed": 7}
    first = ours(base, [ft1], tmp_path / "a", settings)
    again = ours(base, [ft1], tmp_path / "b", settings)
    other_seed = ours(base, [ft1], tmp_path / "c", {**settings, "seed": 8})
    assert_same_tensors(first, again, atol=0)
    base_tensors, ft_tensors = load_file(base / "model.safetensors"), load_file(ft1 / "model.safetensors")
    kept = total = 0
    for name, merged in first.items():
        changed = merged != base_tensors[name]
        # a kept element carries the whole fine-tuning delta, a dropped one none of it
        torch.testing.assert_close(merged[changed], ft_tensors[name][changed])
        kept += int(changed.sum())
        total += merged.numel()
    assert abs(kept / total - 0.3) < 0.01
    assert any(not torch.equal(first[n], other_seed[n]) for n in first)


def test_cli_output_loads_with_transformers(family_models, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    base, ft1, _ = family_models("qwen3")
    out = tmp_path / "merged"
    main(
        [
            "--base",
            str(base),
            "--models",
            str(ft1),
            "--output",
            str(out),
            "--settings",
            '{"method": "slerp", "t": 0.5}',
        ]
    )
    model = AutoModelForCausalLM.from_pretrained(out)
    merged = load_file(out / "model.safetensors")
    assert torch.equal(model.model.embed_tokens.weight, merged["model.embed_tokens.weight"])
    assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()  # still tied
    assert AutoTokenizer.from_pretrained(out).get_vocab() == AutoTokenizer.from_pretrained(base).get_vocab()
    card = (out / "README.md").read_text()
    assert "`slerp`" in card and str(ft1) in card and '"t": 0.5' in card
    assert card.startswith("---\n") and "tags:\n- medadapt\n- merge" in card
    run = json.loads((out / RUN_RECORD).read_text())
    assert run["method"] == "merge" and run["code"] == code_state() and run["settings"]["t"] == 0.5
    assert run["merged"]["models"][0]["path"] == os.path.relpath(ft1)
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == []
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".merged")]  # no temp dir left


def test_sharded_output_and_sharded_base(family_models, tmp_path):
    from transformers import AutoModelForCausalLM

    base, ft1, _ = family_models("llama")
    whole = ours(base, [ft1], tmp_path / "whole", {"method": "slerp", "t": 0.6})
    merge_models(base, [ft1], tmp_path / "sharded", {"method": "slerp", "t": 0.6, "max_shard_size": "60KB"})
    index = json.loads((tmp_path / "sharded" / "model.safetensors.index.json").read_text())
    assert len(set(index["weight_map"].values())) > 3
    assert not (tmp_path / "sharded" / "model.safetensors").exists()
    sharded = {n: Checkpoint.open(tmp_path / "sharded").load(n) for n in index["weight_map"]}
    assert_same_tensors(sharded, whole, atol=0)
    model = AutoModelForCausalLM.from_pretrained(tmp_path / "sharded")
    assert torch.equal(model.model.norm.weight, whole["model.norm.weight"])
    # the sharded merge as a base: t = 0 gives it back
    again = ours(tmp_path / "sharded", [ft1], tmp_path / "again", {"method": "slerp", "t": 0.0})
    assert_same_tensors(again, whole, atol=0)


def test_mismatched_vocab_size_is_refused(family_models, tmp_path):
    base, ft1, _ = family_models("llama")
    bad = perturbed_copy(ft1, tmp_path / "bad", 3)
    tensors = load_file(bad / "model.safetensors")
    tensors["model.embed_tokens.weight"] = tensors["model.embed_tokens.weight"][:-5]
    save_file(tensors, bad / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(
        ValueError, match=r"tensor 'model\.embed_tokens\.weight' has shape \[\d+, 64\] in .*bad"
    ):
        merge_models(base, [bad], tmp_path / "out", {"method": "slerp", "t": 0.5})
    assert not (tmp_path / "out").exists()


def test_mismatched_tensor_set_is_refused(family_models, tmp_path):
    base, ft1, ft2 = family_models("qwen3")
    bad = perturbed_copy(ft1, tmp_path / "bad", 3)
    tensors = load_file(bad / "model.safetensors")
    del tensors["model.layers.2.self_attn.q_norm.weight"]
    save_file(tensors, bad / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(
        ValueError, match=r"tensor set differs.*missing \['model\.layers\.2\.self_attn\.q_norm"
    ):
        merge_models(base, [ft2, bad], tmp_path / "out", {"method": "ties", "weight": 1})


def test_saved_copy_of_tied_head_is_ignored(family_models, tmp_path):
    """A tied model saved with an explicit lm_head copy (DeepSpeed's way) merges with one without."""
    base, ft1, _ = family_models("llama")
    saved = perturbed_copy(ft1, tmp_path / "with-head", 4)
    tensors = load_file(saved / "model.safetensors")
    tensors["lm_head.weight"] = tensors["model.embed_tokens.weight"].clone()
    save_file(tensors, saved / "model.safetensors", metadata={"format": "pt"})
    merged = ours(base, [saved], tmp_path / "out", {"method": "slerp", "t": 0.5})
    assert "lm_head.weight" not in merged


def test_different_vocabulary_is_refused(family_models, tmp_path):
    base, ft1, _ = family_models("llama")
    bad = perturbed_copy(ft1, tmp_path / "bad", 3)
    tokenizer = json.loads((bad / "tokenizer.json").read_text())
    vocab = tokenizer["model"]["vocab"]
    first, second = list(vocab)[10:12]
    vocab[first], vocab[second] = vocab[second], vocab[first]
    (bad / "tokenizer.json").write_text(json.dumps(tokenizer))
    with pytest.raises(ValueError, match=r"bad/tokenizer\.json: vocabulary differs"):
        merge_models(base, [bad], tmp_path / "out", {"method": "slerp", "t": 0.5})


def test_missing_weights_and_bad_index_are_refused(family_models, tmp_path):
    base, _, _ = family_models("llama")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match=r"empty: no model\.safetensors"):
        merge_models(base, [empty], tmp_path / "out", {"method": "slerp", "t": 0.5})
    broken = tmp_path / "broken"
    shutil.copytree(base, broken)
    (broken / "model.safetensors.index.json").write_text(
        json.dumps({"weight_map": {"x": "model.safetensors"}})
    )
    with pytest.raises(ValueError, match=r"index\.json: tensors absent .*\['x'\]"):
        merge_models(base, [broken], tmp_path / "out", {"method": "slerp", "t": 0.5})


def test_failure_mid_merge_leaves_no_output(family_models, tmp_path):
    base, ft1, _ = family_models("llama")
    settings = {"method": "linear", "base_parameters": {"weight": 1.0}, "weight": -1.0}
    with pytest.raises(ValueError, match="sum to 0"):
        merge_models(base, [ft1], tmp_path / "out", settings)
    assert list(tmp_path.iterdir()) == []


def test_merged_folder_describes_the_merge_not_the_base(family_models, tmp_path):
    """The base's medadapt_model.json (its seed and variant) is not copied: the merge writes its own."""
    base, ft1, _ = family_models("llama")
    other = tmp_path / "other"
    shutil.copytree(ft1, other)
    record = json.loads((base / "medadapt_model.json").read_text())
    (other / "medadapt_model.json").write_text(json.dumps({**record, "variant": "base", "seed": 5}))
    merge_models(base, [other], tmp_path / "out", {"method": "slerp", "t": 0.5})
    merged = json.loads((tmp_path / "out" / "medadapt_model.json").read_text())
    assert "seed" not in merged and "variant" not in merged  # inputs disagree: neither is the merge's
    assert merged["family"] == record["family"] and merged["architecture"] == record["architecture"]
    assert merged["made_by"] == "merge" and merged["method"] == "slerp"
    assert [(i["role"], i["path"]) for i in merged["inputs"]] == [("base", str(base)), ("model", str(other))]
    assert merged["inputs"][0]["model"] == record and merged["inputs"][1]["model"]["seed"] == 5
    assert merged["settings"]["t"] == 0.5
    merge_models(base, [ft1], tmp_path / "same", {"method": "slerp", "t": 0.5})
    assert json.loads((tmp_path / "same" / "medadapt_model.json").read_text())["variant"] == "instruct"
