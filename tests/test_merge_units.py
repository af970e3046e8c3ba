"""Unit tests of the merge stage's parts: parameters, tensor math, writer, settings."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from safetensors import safe_open

from pipeline.merge import arithmetic
from pipeline.merge.methods import METHODS, MergeMethod, get_method, register
from pipeline.merge.parameters import evaluate, layer_positions, normalize_setting, resolve
from pipeline.merge.settings import parse_settings
from pipeline.merge.writer import OutputTensor, ShardWriter, plan_shards

mergekit_config = pytest.importorskip("mergekit.config")

NAMES = [
    "model.embed_tokens.weight",
    "model.layers.3.self_attn.q_proj.weight",
    "model.layers.0.mlp.down_proj.weight",
    "model.norm.weight",
]
numbers = st.floats(-2, 2, allow_nan=False)
values = st.one_of(numbers, st.lists(numbers, min_size=1, max_size=6))
conditions = st.lists(
    st.fixed_dictionaries(
        {"value": values}, optional={"filter": st.sampled_from(["self_attn", "mlp", "norm", "*", "absent"])}
    ),
    min_size=1,
    max_size=4,
)


@settings(max_examples=200, deadline=None)
@given(setting=st.one_of(values, conditions), name=st.sampled_from(NAMES), position=st.floats(0, 1))
def test_evaluate_matches_mergekit(setting, name, position):
    theirs_setting = (
        [mergekit_config.ConditionalParameter(**c) for c in setting]
        if isinstance(setting, list) and isinstance(setting[0], dict)
        else setting
    )
    theirs = mergekit_config.evaluate_setting(name, theirs_setting, position, validate=float)
    ours = evaluate(normalize_setting("t", setting), name, position)
    assert (ours is None and theirs is None) or ours == pytest.approx(theirs, abs=1e-12)


def test_default_and_filters_form_resolves_in_order():
    setting = normalize_setting(
        "t",
        {
            "default": 0.5,
            "filters": [{"filter": "self_attn", "value": [0, 1]}, {"filter": "mlp", "value": 1}],
        },
    )
    assert evaluate(setting, "model.layers.1.self_attn.q_proj.weight", 0.25) == 0.25
    assert evaluate(setting, "model.layers.1.mlp.up_proj.weight", 0.25) == 1.0
    assert evaluate(setting, "model.norm.weight", 0.0) == 0.5


def test_resolve_precedence_and_missing_value():
    model_scope = {"weight": normalize_setting("weight", [{"filter": "mlp", "value": 2.0}])}
    global_scope = {"weight": 1.0}
    assert resolve("weight", [model_scope, global_scope], "a.mlp.b", 0, None) == 2.0
    assert resolve("weight", [model_scope, global_scope], "a.attn.b", 0, None) == 1.0
    assert resolve("density", [model_scope, global_scope], "a.attn.b", 0, 1.0) == 1.0
    with pytest.raises(ValueError, match=r"no value of 'weight' applies to tensor 'a\.attn\.b'"):
        resolve("weight", [model_scope], "a.attn.b", 0, None)


@pytest.mark.parametrize(
    "bad", [True, [], "0.5", {"default": 0.5, "other": 1}, [{"filter": "mlp"}], [{"value": [{"value": 1}]}]]
)
def test_bad_settings_values_are_refused(bad):
    with pytest.raises(ValueError, match="setting 't'"):
        normalize_setting("t", bad)


def test_layer_positions_follow_mergekit():
    names = [f"model.layers.{i}.mlp.up_proj.weight" for i in range(5)]
    names += ["model.embed_tokens.weight", "model.norm.weight", "lm_head.weight", "vision.layers.0.fc.weight"]
    positions = layer_positions(names)
    assert [positions[n] for n in names[:5]] == [0, 0.25, 0.5, 0.75, 1]
    assert positions["model.embed_tokens.weight"] == positions["model.norm.weight"] == 0
    assert positions["lm_head.weight"] == 0
    assert positions["vision.layers.0.fc.weight"] == 1  # a one-layer stack sits at 1, as in mergekit


SLERP_CASES = {
    "random": lambda g: (torch.randn(64, 32, generator=g), torch.randn(64, 32, generator=g)),
    "close": lambda g: (x := torch.randn(300, generator=g), x + 0.01 * torch.randn(300, generator=g)),
    "colinear": lambda g: (x := torch.randn(50, 8, generator=g), 3 * x),
    "antipodal": lambda g: (x := torch.randn(50, generator=g), -x),
    "zero": lambda g: (torch.zeros(40), torch.randn(40, generator=g)),
    "multi-chunk": lambda g: (torch.randn(1_300_000, generator=g), torch.randn(1_300_000, generator=g)),
}


@pytest.mark.parametrize("case", sorted(SLERP_CASES))
@pytest.mark.parametrize("t", [0.0, 0.3, 0.5, 1.0, 1.4])
def test_slerp_matches_mergekit(case, t):
    from mergekit.merge_methods.slerp import slerp as mk_slerp

    v0, v1 = SLERP_CASES[case](torch.Generator().manual_seed(0))
    theirs = mk_slerp(torch.tensor([t]), v0.unsqueeze(0), v1.unsqueeze(0))[0]
    torch.testing.assert_close(arithmetic.slerp(t, v0, v1), theirs, atol=1e-6, rtol=0)


def test_slerp_is_accurate_on_large_close_tensors():
    """Near-colinear (fine-tuned vs base) tensors amplify errors in the dot product:
    float32 reductions over millions of elements were off by 1e-6 to 1e-4 here."""
    from mergekit.merge_methods.slerp import slerp as mk_slerp

    g = torch.Generator().manual_seed(6)
    v0 = 0.02 * torch.randn(3_000_000, generator=g)
    v1 = v0 + 0.002 * torch.randn(3_000_000, generator=g)
    exact = arithmetic.slerp(0.5, v0.double(), v1.double())
    torch.testing.assert_close(arithmetic.slerp(0.5, v0, v1).double(), exact, atol=5e-8, rtol=0)
    theirs = mk_slerp(torch.tensor([0.5]), v0.unsqueeze(0), v1.unsqueeze(0))[0]
    torch.testing.assert_close(arithmetic.slerp(0.5, v0, v1), theirs, atol=1e-6, rtol=0)


def test_slerp_endpoints_and_empty():
    g = torch.Generator().manual_seed(1)
    v0, v1 = torch.randn(10, 10, generator=g), torch.randn(10, 10, generator=g)
    torch.testing.assert_close(arithmetic.slerp(0.0, v0, v1), v0)
    torch.testing.assert_close(arithmetic.slerp(1.0, v0, v1), v1)
    assert arithmetic.slerp(0.5, torch.zeros(0, 3), torch.zeros(0, 3)).shape == (0, 3)


@pytest.mark.parametrize("density", [0.0, 0.1, 0.5, 0.99, 1.0])
@pytest.mark.parametrize("rescale", [False, True])
def test_magnitude_sparsify_matches_mergekit(density, rescale):
    from mergekit.sparsify import RescaleNorm, magnitude

    delta = torch.randn(64, 48, generator=torch.Generator().manual_seed(2))
    theirs = magnitude(delta, density, RescaleNorm.l1 if rescale else None)
    torch.testing.assert_close(arithmetic.sparsify(delta, density, "magnitude", rescale), theirs)


@pytest.mark.parametrize("density", [0.1, 0.5, 0.9])
def test_dare_drop_statistics(density):
    delta = torch.randn(200_000, generator=torch.Generator().manual_seed(3))
    kept = arithmetic.sparsify(delta, density, "random", False, torch.Generator().manual_seed(4))
    nonzero = kept != 0
    # Bernoulli(density) over 200k draws: 5 sigma is below 0.006
    assert abs(nonzero.float().mean().item() - density) < 0.006
    assert torch.equal(kept[nonzero], delta[nonzero])
    rescaled = arithmetic.sparsify(delta, density, "random", True, torch.Generator().manual_seed(4))
    assert torch.equal(rescaled != 0, nonzero)
    assert rescaled.abs().sum().item() == pytest.approx(delta.abs().sum().item(), rel=1e-5)


def test_dare_is_deterministic_per_seed_and_tensor():
    delta = torch.randn(5000, generator=torch.Generator().manual_seed(5))

    def drop(seed: int, name: str, model: int) -> torch.Tensor:
        generator = torch.Generator().manual_seed(arithmetic.tensor_seed(seed, name, model))
        return arithmetic.sparsify(delta, 0.5, "random", True, generator)

    assert torch.equal(drop(0, "w", 0), drop(0, "w", 0))
    assert not torch.equal(drop(0, "w", 0), drop(1, "w", 0))
    assert not torch.equal(drop(0, "w", 0), drop(0, "v", 0))
    assert not torch.equal(drop(0, "w", 0), drop(0, "w", 1))
    assert arithmetic.tensor_seed(0, "model.norm.weight", 0) == 6108692682668363123  # stable across runs
    assert torch.equal(arithmetic.sparsify(delta, 1.0, "random", True), delta)
    assert torch.count_nonzero(arithmetic.sparsify(delta, 0.0, "random", True)) == 0


def test_ties_sign_election_by_hand():
    base = torch.zeros(4)
    deltas = torch.tensor([[1.0, -1.0, 2.0, 0.0], [-3.0, -1.0, 1.0, 0.0]])
    merged = arithmetic.combine_deltas(base, deltas.clone(), [1.0, 1.0], True, True, 1.0)
    # element 0: sum -2 elects "-": only -3 counts; 1: both agree; 2: both agree; 3: nothing to merge
    torch.testing.assert_close(merged, torch.tensor([-3.0, -1.0, 1.5, 0.0]))
    plain = arithmetic.combine_deltas(base, deltas.clone(), [0.5, 0.5], False, False, 2.0)
    torch.testing.assert_close(plain, deltas.sum(0))


def test_linear_refuses_zero_weight_sum():
    with pytest.raises(ValueError, match=r"'w'.*sum to 0"):
        arithmetic.linear([torch.ones(2), torch.ones(2)], [1.0, -1.0], True, "w")


def test_shard_writer_round_trip(tmp_path):
    tensors = {
        "b": torch.randn(7, 3).to(torch.bfloat16),
        "a": torch.randn(5, 2),
        "scalar": torch.tensor(2.5, dtype=torch.float64),
        "ids": torch.arange(6, dtype=torch.int64).reshape(2, 3),
        "flags": torch.tensor([True, False, True]),
        "empty": torch.zeros(0, 4),
    }
    specs = {n: OutputTensor(t.dtype, tuple(t.shape)) for n, t in tensors.items()}
    with ShardWriter(tmp_path / "x.safetensors", specs) as writer:
        for name, tensor in tensors.items():
            writer.write(name, tensor)
    with safe_open(tmp_path / "x.safetensors", "pt") as f:
        assert set(f.keys()) == set(tensors)
        for name, tensor in tensors.items():
            assert torch.equal(f.get_tensor(name), tensor)
    header_size = int.from_bytes((tmp_path / "x.safetensors").read_bytes()[:8], "little")
    assert header_size % 8 == 0  # tensor data starts 8-byte aligned


def test_shard_writer_refuses_wrong_order_and_missing(tmp_path):
    specs = {"a": OutputTensor(torch.float32, (2,)), "b": OutputTensor(torch.float32, (3,))}
    with (
        pytest.raises(ValueError, match=r"got tensor 'b'.*expected 'a'"),
        ShardWriter(tmp_path / "1", specs) as w,
    ):
        w.write("b", torch.zeros(3))
    with pytest.raises(ValueError, match=r"never written: \['b'\]"), ShardWriter(tmp_path / "2", specs) as w:
        w.write("a", torch.zeros(2))
    with (
        pytest.raises(ValueError, match=r"expected 'a' torch\.float32"),
        ShardWriter(tmp_path / "3", specs) as w,
    ):
        w.write("a", torch.zeros(2, dtype=torch.float16))


def test_plan_shards_names_like_transformers():
    specs = {f"t{i}": OutputTensor(torch.float32, (250,)) for i in range(5)}  # 1000 bytes each
    assert plan_shards(specs, 10**6) == {"model.safetensors": list(specs)}
    shards = plan_shards(specs, 2000)
    assert list(shards) == [f"model-0000{i}-of-00003.safetensors" for i in (1, 2, 3)]
    assert [n for names in shards.values() for n in names] == list(specs)


def test_settings_defaults_follow_mergekit():
    ties = parse_settings({"method": "ties", "weight": 1}, 2)
    assert (ties.normalize, ties.rescale, ties.lambda_, ties.method.sparsify) == (
        True,
        False,
        1.0,
        "magnitude",
    )
    dare = parse_settings({"method": "dare_ties", "weight": 1, "density": 0.5}, 2)
    assert (dare.normalize, dare.rescale, dare.seed, dare.method.sign_consensus) == (False, True, 0, True)
    assert parse_settings({"method": "linear", "weight": 1}, 1).normalize is True
    assert (
        parse_settings({"method": "slerp", "t": 0.5, "max_shard_size": "2GB"}, 1).max_shard_size == 2 * 10**9
    )
    assert (
        parse_settings({"method": "slerp", "t": 0.5, "max_shard_size": "1.5MB"}, 1).max_shard_size
        == 1_500_000
    )


@pytest.mark.parametrize(
    ("settings", "n_models", "message"),
    [
        ({"method": "nope"}, 1, "settings 'method'"),
        ({"method": "slerp", "t": 0.5}, 2, "exactly one other model"),
        ({"method": "slerp"}, 1, "slerp needs 't'"),
        ({"method": "slerp", "t": 0.5, "density": 0.5}, 1, r"keys \['density'\] do not apply"),
        ({"method": "ties", "weight": 1, "seed": 3}, 1, r"keys \['seed'\] do not apply"),
        ({"method": "slerp", "t": 0.5, "dtype": "int8"}, 1, "settings 'dtype'"),
        ({"method": "slerp", "t": 0.5, "max_shard_size": "2 parsecs"}, 1, "max_shard_size"),
        ({"method": "ties", "weight": 1, "normalize": "yes"}, 1, "settings 'normalize'"),
        (
            {"method": "ties", "weight": 1, "model_parameters": [{}]},
            2,
            "'model_parameters': expected a list of 2",
        ),
        ({"method": "ties", "model_parameters": [{"t": 1}]}, 1, r"'model_parameters\[0\]'"),
        (
            {"method": "ties", "weight": 1, "base_parameters": {"weight": 1}},
            1,
            r"\['base_parameters'\] do not apply",
        ),
    ],
)
def test_bad_settings_are_refused(settings, n_models, message):
    with pytest.raises(ValueError, match=message):
        parse_settings(settings, n_models)


def test_registry_holds_every_method_the_config_schema_allows():
    schema = yaml.safe_load(
        (Path(__file__).resolve().parents[1] / "workflow/schemas/config.schema.yaml").read_text()
    )
    assert sorted(METHODS) == sorted(schema["$defs"]["merge_settings"]["properties"]["method"]["enum"])
    assert all(get_method(name).name == name for name in METHODS)


def test_a_method_is_registered_once_by_name():
    with pytest.raises(ValueError, match="'slerp' is registered twice"):

        @register
        class Again(MergeMethod):
            name = "slerp"

    with pytest.raises(ValueError, match=r"settings 'method': expected one of \['dare_linear'"):
        get_method(["slerp"])


def test_tensor_seed_range():
    seeds = {arithmetic.tensor_seed(s, n, m) for s in range(3) for n in NAMES for m in range(3)}
    assert len(seeds) == 36 and all(0 <= s < 2**63 for s in seeds)


def test_ties_sign_election_at_a_bf16_tie_differs_from_mergekit():
    """Documented (docs/merging.md): mergekit elects TIES signs in the merge dtype; at `dtype:
    bfloat16` weighted differences that cancel exactly in bf16 elect +, ours (float32) elects -."""
    from mergekit.merge_methods.generalized_task_arithmetic import get_mask

    base = torch.tensor([1.0], dtype=torch.bfloat16)
    models = torch.tensor([[1 + 58 / 256], [1 - 50 / 512]], dtype=torch.bfloat16)
    weights = torch.tensor([0.3, 0.7])
    theirs = get_mask((models - base) * weights.to(torch.bfloat16)[:, None], method="sum")
    assert theirs.tolist() == [[True], [False]]  # bf16 sum of +0.0684 and -0.0684 is exactly 0
    deltas = models.float() - base.float()
    ours = arithmetic.combine_deltas(base.float(), deltas.clone(), weights.tolist(), True, True, 1.0)
    assert ours.item() == pytest.approx(float(models[1]))  # float32 sum is -0.0004: the second model wins
