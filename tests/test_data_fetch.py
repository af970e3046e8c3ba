"""The data stage offline: each source kind fetched from a local stand-in, verified and read;
corrupted downloads and changed upstreams caught; restricted sets named and left out."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml

from conftest import REPO
from pipeline.dag.grid import load_grid
from pipeline.data import manifest
from pipeline.data.fetch import ChecksumMismatch, fetch
from pipeline.data.sources import Source, load_sources
from pipeline.tasks.registry import load_examples, load_registry

HF_REVISION = "5f1e0c2d3b4a69788796a5b4c3d2e1f0a9b8c7d6"
OFFLINE = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}


def git(*args: str, cwd: Path) -> str:
    result = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
    )
    return result.stdout.strip()


@pytest.fixture
def ncbi_repo(tmp_path, shared_data) -> tuple[Path, str]:
    """A local Git repository of the NCBI-disease files; a later commit changes the test set.
    Returns (repository, the first commit)."""
    repo = tmp_path / "upstream" / "ncbi-disease"
    shutil.copytree(shared_data / "ncbi_disease" / "original-data", repo / "original-data")
    (repo / "README.md").write_text("not checked out: outside the sparse paths\n")
    git("init", "--quiet", "-b", "main", cwd=repo)
    git("add", "-A", cwd=repo)
    git("commit", "--quiet", "-m", "corpus", cwd=repo)
    first = git("rev-parse", "HEAD", cwd=repo)
    (repo / "original-data" / "test" / "NCBItestset_corpus.txt").write_text("1|t|changed upstream\n")
    git("commit", "--quiet", "-am", "a later upstream change", cwd=repo)
    return repo, first


def ncbi_entry(path: str) -> dict:
    return {
        "task": "ner",
        "reader": "pubtator",
        "path": path,
        "languages": ["en"],
        "subtasks": {
            "disease": {"labels": ["SpecificDisease", "DiseaseClass", "Modifier", "CompositeMention"]}
        },
        "options": {
            "splits": {
                "train": "train/NCBItrainset_corpus.txt",
                "dev": "devel/NCBIdevelopset_corpus.txt",
                "test": "test/NCBItestset_corpus.txt",
            }
        },
    }


def test_git_source_is_fetched_at_its_commit_sparse_and_checksummed(tmp_path, ncbi_repo, shared_data):
    repo, first = ncbi_repo
    source = Source("ncbi", {"git": f"file://{repo}", "commit": first, "paths": ["original-data"]})
    digest = fetch(source, tmp_path / "data/ncbi", tmp_path / "data/ncbi.sha256", tmp_path / "data/.records")

    folder = tmp_path / "data/ncbi"
    assert not (folder / "README.md").exists() and not (folder / ".git").exists()
    text = (tmp_path / "data/ncbi.sha256").read_text()
    assert manifest.digest(text) == digest
    assert set(manifest.parse(text, "m")) == {
        p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()
    }
    # the manifest is `sha256sum -c` compatible, and the record of the first fetch is kept
    subprocess.run(
        ["sha256sum", "--check", "--quiet", str(tmp_path / "data/ncbi.sha256")], cwd=folder, check=True
    )
    assert (tmp_path / "data/.records/ncbi.sha256").read_text() == text
    # the pinned commit's files, not the later upstream change, reach the reader
    fetched = load_examples(
        "ncbi", load_registry({"datasets": {"ncbi": ncbi_entry("data/ncbi/original-data")}})["ncbi"], tmp_path
    )
    shared = load_examples(
        "ncbi",
        load_registry({"datasets": {"ncbi": ncbi_entry(str(shared_data / "ncbi_disease/original-data"))}})[
            "ncbi"
        ],
    )
    assert [e.to_record() for e in fetched] == [e.to_record() for e in shared]
    assert sum(e.split == "test" for e in fetched) > 0


def test_a_pinned_manifest_guards_the_git_source(tmp_path, ncbi_repo):
    repo, first = ncbi_repo
    spec = {"git": str(repo), "commit": first, "paths": ["original-data"]}
    digest = fetch(Source("ncbi", spec), tmp_path / "a", tmp_path / "a.sha256")
    with pytest.raises(ChecksumMismatch, match=f"manifest sha256 {digest} differs from the pinned"):
        fetch(Source("ncbi", {**spec, "manifest": "0" * 64}), tmp_path / "b", tmp_path / "b.sha256")
    assert not (tmp_path / "b").exists() and not (tmp_path / "b.sha256").exists()
    assert (
        fetch(Source("ncbi", {**spec, "manifest": digest}), tmp_path / "c", tmp_path / "c.sha256") == digest
    )
    with pytest.raises(RuntimeError, match="not found upstream"):
        fetch(Source("ncbi", {**spec, "commit": "1" * 40}), tmp_path / "d", tmp_path / "d.sha256")


@pytest.fixture
def hub_cache(tmp_path, shared_data) -> Path:
    """A Hugging Face hub cache holding `org/medqa-toy` at HF_REVISION: MedQA rows saved as parquet by
    `datasets`, under other column names than the reader's."""
    from datasets import Dataset

    rows = [json.loads(line) for line in (shared_data / "qa/medqa/medqa_test.jsonl").open()][:12]
    table = Dataset.from_list(
        [{"stem": r["question"], "choices": r["options"], "gold": r["answer_idx"], "extra": 1} for r in rows]
    )
    cache = tmp_path / "hub"
    snapshot = cache / "datasets--org--medqa-toy" / "snapshots" / HF_REVISION
    (snapshot / "data").mkdir(parents=True)
    table.to_parquet(str(snapshot / "data" / "test-00000-of-00001.parquet"))
    (snapshot / "README.md").write_text("---\nlicense: mit\n---\n")
    return cache


HF_SPEC = {
    "hf": "org/medqa-toy",
    "revision": HF_REVISION,
    "files": ["data/*.parquet"],
    "export": [
        {
            "from": "data/test-*.parquet",
            "to": "en/test.jsonl",
            "columns": {"stem": "question", "choices": "options", "gold": "answer_idx"},
        }
    ],
}


MEDQA_TOY = {"task": "qa", "reader": "medqa_jsonl", "path": {"en": "data/medqa-toy/en"}, "languages": ["en"],
             "subtasks": {"mcq": {}}}  # fmt: skip


def fetch_cli(name: str, spec: dict, workdir: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The stage's command line, as the rule runs it."""
    return subprocess.run(
        [
            *(sys.executable, "-m", "pipeline.data.fetch", "--name", name, "--spec", json.dumps(spec)),
            *("--folder", f"data/{name}", "--manifest", f"data/{name}.sha256", "--records", "data/.records"),
        ],
        cwd=workdir,
        env={**os.environ, "PYTHONPATH": str(REPO / "src"), **env},
        capture_output=True,
        text=True,
    )


def test_hf_source_offline_with_column_mapping_then_a_changed_upstream_is_caught(
    tmp_path, hub_cache, shared_data
):
    env = {**OFFLINE, "HF_HUB_CACHE": str(hub_cache), "HF_HOME": str(tmp_path / "hf-home")}
    result = fetch_cli("medqa-toy", HF_SPEC, tmp_path, env)
    assert result.returncode == 0, result.stderr
    folder = tmp_path / "data/medqa-toy"
    assert not (folder / "README.md").exists()  # outside `files`
    assert set(manifest.parse((tmp_path / "data/medqa-toy.sha256").read_text(), "m")) == {
        "data/test-00000-of-00001.parquet",
        "en/test.jsonl",
    }
    examples = load_examples("toy", load_registry({"datasets": {"toy": MEDQA_TOY}})["toy"], tmp_path)
    originals = [json.loads(line) for line in (shared_data / "qa/medqa/medqa_test.jsonl").open()][:12]
    assert [e.text for e in examples] == [r["question"] for r in originals]
    assert [e.gold["answer"] for e in examples][:3] and all(e.split == "test" for e in examples)

    # The same revision served different bytes (a corrupted cache or a rewritten upstream): the
    # refetch fails against the first fetch's record, naming the file, and keeps the verified copy.
    blob = (
        hub_cache
        / "datasets--org--medqa-toy"
        / "snapshots"
        / HF_REVISION
        / "data"
        / "test-00000-of-00001.parquet"
    )
    before = (tmp_path / "data/medqa-toy/en/test.jsonl").read_bytes()
    blob.write_bytes(blob.read_bytes()[:-64] + bytes(64))
    again = fetch_cli("medqa-toy", HF_SPEC, tmp_path, env)
    assert again.returncode != 0
    assert "differs from the checksums recorded" in again.stderr
    assert "changed: data/test-00000-of-00001.parquet" in again.stderr
    assert (tmp_path / "data/medqa-toy/en/test.jsonl").read_bytes() == before


def test_hf_source_not_in_the_offline_cache_is_an_error(tmp_path, hub_cache):
    env = {**OFFLINE, "HF_HUB_CACHE": str(hub_cache), "HF_HOME": str(tmp_path / "hf-home")}
    result = fetch_cli("medqa-toy", {**HF_SPEC, "revision": "2" * 40}, tmp_path, env)
    assert result.returncode != 0 and "LocalEntryNotFoundError" in result.stderr
    assert not (tmp_path / "data/medqa-toy").exists()


@pytest.fixture
def casimedicos_archive(tmp_path, shared_data) -> tuple[Path, str]:
    """A tar.gz of the English CasiMedicos-Arg files, as an archive host would serve it; (path, sha256)."""
    archive = tmp_path / "upstream" / "casimedicos-arg.tar.gz"
    archive.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "w:gz") as tf:
        tf.add(shared_data / "argmining/casimedicos-arg/EN", arcname="casimedicos-arg/EN")
    return archive, hashlib.sha256(archive.read_bytes()).hexdigest()


CASIMEDICOS = {"task": "argmining", "reader": "casimedicos_arg", "languages": ["en"],
               "subtasks": {"claim_premise": {"labels": ["Claim", "Premise"]}}}  # fmt: skip


def test_archive_source_by_url_is_checked_extracted_and_read(tmp_path, casimedicos_archive, shared_data):
    archive, sha = casimedicos_archive
    source = Source("casimedicos", {"url": archive.as_uri(), "sha256": sha})
    fetch(source, tmp_path / "data/casimedicos", tmp_path / "data/casimedicos.sha256")
    assert sorted(manifest.parse((tmp_path / "data/casimedicos.sha256").read_text(), "m")) == [
        f"casimedicos-arg/EN/{split}.tsv" for split in ("dev", "test", "train")
    ]
    assert list((tmp_path / "data").iterdir()) == [
        tmp_path / "data/casimedicos",
        tmp_path / "data/casimedicos.sha256",
    ]
    fetched = load_examples(
        "cas",
        load_registry({"datasets": {"cas": {**CASIMEDICOS, "path": "data/casimedicos/casimedicos-arg"}}})[
            "cas"
        ],
        tmp_path,
    )
    shared = load_examples(
        "cas",
        load_registry(
            {"datasets": {"cas": {**CASIMEDICOS, "path": str(shared_data / "argmining/casimedicos-arg")}}}
        )["cas"],
    )
    assert fetched and [e.to_record() for e in fetched] == [e.to_record() for e in shared]


def test_a_corrupted_archive_download_is_caught_by_its_checksum(tmp_path, casimedicos_archive):
    archive, sha = casimedicos_archive
    corrupted = archive.with_name("corrupted.tar.gz")
    data = bytearray(archive.read_bytes())
    data[len(data) // 2] ^= 0xFF
    corrupted.write_bytes(bytes(data))
    source = Source("casimedicos", {"url": corrupted.as_uri(), "sha256": sha})
    with pytest.raises(ValueError, match=f"differs from the pinned {sha}"):
        fetch(source, tmp_path / "data/casimedicos", tmp_path / "data/casimedicos.sha256")
    assert not (tmp_path / "data").exists() or not any((tmp_path / "data").iterdir())  # nothing left behind


def test_unpack_extracts_archives_inside_a_git_source(tmp_path, casimedicos_archive):
    archive, _ = casimedicos_archive
    repo = tmp_path / "upstream" / "antidote"
    repo.mkdir()
    shutil.copy(archive, repo / "casimedicos-arg.tar.gz")
    git("init", "--quiet", cwd=repo)
    git("add", "-A", cwd=repo)
    git("commit", "--quiet", "-m", "archive", cwd=repo)
    spec = {
        "git": repo.as_uri(),
        "commit": git("rev-parse", "HEAD", cwd=repo),
        "unpack": ["casimedicos-arg.tar.gz"],
    }
    fetch(Source("antidote", spec), tmp_path / "data/antidote", tmp_path / "data/antidote.sha256")
    assert (tmp_path / "data/antidote/casimedicos-arg/EN/train.tsv").is_file()


RESTRICTED = {
    "restricted": {
        "apply": "https://portal.dbmi.hms.harvard.edu/projects/n2c2-nlp/",
        "layout": "{train,test}/<doc>.{txt,ann}",
    }
}


def registry_with_restricted(tmp_path: Path) -> tuple[Path, str]:
    """The demo registry plus a restricted dataset (and a restricted language of a public one)."""
    registry = yaml.safe_load((REPO / "config/datasets/demo.yaml").read_text())
    registry["sources"] = {"n2c2-toy": RESTRICTED, "mcq-it": RESTRICTED}
    registry["datasets"]["n2c2-toy"] = {
        "task": "ner", "reader": "brat", "path": "data/restricted/n2c2-toy", "languages": ["en"],
        "subtasks": {"problem": {"labels": ["DISEASE"]}},
    }  # fmt: skip
    mcq = next(
        name for name, e in registry["datasets"].items() if e["task"] == "qa" and "it" in e["languages"]
    )
    entry = registry["datasets"][mcq]
    paths = {lang: f"{entry['path']}/{lang}" if isinstance(entry["path"], str) else entry["path"][lang]
             for lang in entry["languages"]}  # fmt: skip
    entry["path"] = {**paths, "it": "data/restricted/mcq-it/it"}
    path = tmp_path / "registry.yaml"
    path.write_text(yaml.safe_dump(registry))
    return path, mcq


def test_missing_restricted_data_is_named_and_left_out_of_the_grid(tmp_path):
    registry, mcq = registry_with_restricted(tmp_path)
    config = {**yaml.safe_load((REPO / "config/config.yaml").read_text()), "registry": str(registry)}
    grid = load_grid(config, base_dir=REPO, workdir=tmp_path)
    assert "n2c2-toy" not in grid.registry and "it" not in grid.registry[mcq].languages
    assert "it" not in grid.registry_entries[mcq]["path"]
    report = grid.missing_report()
    assert "[n2c2-toy] restricted data source 'n2c2-toy' is not at data/restricted/n2c2-toy/" in report
    assert "https://portal.dbmi.hms.harvard.edu/projects/n2c2-nlp/" in report
    assert "data/restricted/n2c2-toy/ as: {train,test}/<doc>.{txt,ann}" in report
    assert f"[{mcq}/it]" in report
    with pytest.raises(ValueError, match=r"missing restricted data \(missing_restricted: error\)"):
        load_grid({**config, "missing_restricted": "error"}, base_dir=REPO, workdir=tmp_path)
    # placed by the user: back in the grid
    doc = tmp_path / "data/restricted/n2c2-toy/train/d1"
    doc.parent.mkdir(parents=True)
    doc.with_suffix(".txt").write_text("fever\n")
    doc.with_suffix(".ann").write_text("T1\tDISEASE 0 5\tfever\n")
    assert "n2c2-toy" in load_grid(config, base_dir=REPO, workdir=tmp_path).registry
    with pytest.raises(ValueError, match=r"apply for access at https://portal\.dbmi"):
        fetch(load_sources({"n2c2-toy": RESTRICTED})["n2c2-toy"], tmp_path / "x", tmp_path / "x.sha256")


def test_a_data_path_of_an_undeclared_source_is_a_dag_time_error(tmp_path):
    registry = yaml.safe_load((REPO / "config/datasets/demo.yaml").read_text())
    name = next(iter(registry["datasets"]))
    registry["datasets"][name]["path"] = "data/nowhere/files"
    path = tmp_path / "registry.yaml"
    path.write_text(yaml.safe_dump(registry))
    config = {**yaml.safe_load((REPO / "config/config.yaml").read_text()), "registry": str(path)}
    with pytest.raises(
        ValueError, match=f"datasets.{name}.path: .*'nowhere', which the registry's `sources:`"
    ):
        load_grid(config, base_dir=REPO, workdir=tmp_path)


def test_the_thesis_registry_fetches_everything_it_reads():
    """No development sample in the thesis registry; every data/ path lies in a declared source."""
    text = (REPO / "config/datasets/thesis.yaml").read_text()
    assert "../shared" not in text
    registry = yaml.safe_load(text)
    sources = load_sources(registry["sources"])
    kinds = {s.kind for s in sources.values()}
    assert kinds == {"git", "hf", "restricted"}
    assert "licence" in sources["e3c"].spec and "licence" not in sources["e3c"].fetch_spec  # no refetch
    for name, entry in registry["datasets"].items():
        paths = entry["path"].values() if isinstance(entry["path"], dict) else [entry["path"]]
        assert all(p.startswith("data/") for p in paths), name


@pytest.mark.e2e
def test_a_fresh_checkout_fetches_verifies_and_reads_each_source_kind_as_snakemake_jobs(
    tmp_path, ncbi_repo, hub_cache, casimedicos_archive, monkeypatch
):
    """The rule wiring: datasets under data/<source>/ pull their fetch jobs (git, hf, url) into the
    DAG ahead of extraction, and a real run fetches, checksums and reads each of them."""
    from test_workflow import job_counts, snakemake

    repo, first = ncbi_repo
    archive, sha = casimedicos_archive
    for key, value in {**OFFLINE, "HF_HUB_CACHE": str(hub_cache), "HF_HOME": str(tmp_path / "hf")}.items():
        monkeypatch.setenv(key, value)  # inherited by the jobs
    registry = yaml.safe_load((REPO / "config/datasets/demo.yaml").read_text())
    registry["sources"] = {
        "ncbi": {"git": repo.as_uri(), "commit": first, "paths": ["original-data"]},
        "medqa-toy": HF_SPEC,
        "casimedicos": {"url": archive.as_uri(), "sha256": sha},
    }
    registry["datasets"].update(
        ncbi=ncbi_entry("data/ncbi/original-data"),
        toy=MEDQA_TOY,
        cas={**CASIMEDICOS, "path": "data/casimedicos/casimedicos-arg"},
    )
    (tmp_path / "registry.yaml").write_text(yaml.safe_dump(registry))
    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    (tmp_path / "config.yaml").write_text(
        yaml.safe_dump({**config, "registry": str(tmp_path / "registry.yaml")})
    )
    work = tmp_path / "work"
    targets = [f"results/tasks/{name}.jsonl" for name in ("ncbi", "toy", "cas")]
    args = ("--directory", str(work), "--configfile", str(tmp_path / "config.yaml"), "--cores", "2")
    dry = snakemake("-n", *targets, *args).stdout
    assert job_counts(dry) == {"fetch_data": 3, "extract_tasks": 3}
    assert all(f"data/{name}.sha256" in dry for name in ("ncbi", "medqa-toy", "casimedicos"))

    snakemake(*targets, *args)
    for name in ("ncbi", "medqa-toy", "casimedicos"):
        folder = work / "data" / name
        sums = manifest.parse((work / f"data/{name}.sha256").read_text(), name)
        on_disk = manifest.checksums(folder)
        on_disk.pop(".snakemake_timestamp")  # Snakemake's marker in a directory() output
        assert sums == on_disk and sums
        assert (work / f"data/.records/{name}.sha256").exists()
    for target in targets:
        tasks = [json.loads(line) for line in (work / target).open()]
        assert tasks and {t["split"] for t in tasks} <= {"train", "dev", "test"}
    assert "Nothing to be done" in snakemake("-n", *targets, *args).stdout
