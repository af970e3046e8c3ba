"""The dataset registry (Table 1 as data): specs, evaluation cells, and examples per dataset.

A registry is a YAML file (or dict) with one entry per dataset under `datasets:`; every key
is described in docs/datasets.md and validated by workflow/schemas/dataset.schema.yaml.
"""

from __future__ import annotations

import fnmatch
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.examples import TASKS, Cell, Example
from pipeline.paths import resolve
from pipeline.tasks.readers import get_reader, reader_module
from pipeline.tasks.readers.base import SPLITS, Document
from pipeline.tasks.splits import cap, carve

SCHEMAS = Path(__file__).resolve().parents[3] / "workflow" / "schemas"
SCHEMA = SCHEMAS / "dataset.schema.yaml"
SOURCE_SCHEMA = SCHEMAS / "source.schema.yaml"
DOCS_HINT = "see docs/datasets.md for how to obtain it"


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    task: str
    reader: str
    path: str | dict[str, str]
    languages: tuple[str, ...]
    subtasks: dict[str, dict[str, Any]]
    options: dict[str, Any] = field(default_factory=dict)
    carve: tuple[dict[str, Any], ...] = ()
    max_train: int | None = None
    max_test: int | None = None

    @property
    def reader_module(self) -> str:
        """The module of this dataset's reader (part of what its extraction runs)."""
        return reader_module(self.reader)


def _validate(registry: dict[str, Any], origin: str) -> None:
    import jsonschema

    from pipeline.io import load_yaml
    from pipeline.schema_errors import describe

    schema = load_yaml(SCHEMA.read_text(encoding="utf-8"))
    source_schema = load_yaml(SOURCE_SCHEMA.read_text(encoding="utf-8"))
    names = schema.pop("$defs")
    registry_schema = {
        "$schema": schema.pop("$schema"),
        "$defs": names,
        "type": "object",
        "required": ["datasets"],
        "additionalProperties": False,
        "properties": {
            "datasets": {
                "type": "object",
                "propertyNames": {"$ref": "#/$defs/name"},
                "additionalProperties": schema,
                "minProperties": 1,
            },
            "sources": {
                "type": "object",
                "propertyNames": {"$ref": "#/$defs/name"},
                "additionalProperties": source_schema,
            },
        },
    }
    validator = jsonschema.validators.validator_for(registry_schema)(registry_schema)
    lines = [line for err in validator.iter_errors(registry) for line in describe(err, f"{origin}: key")]
    if lines:
        raise ValueError("\n".join(lines))


def read_registry(
    source: str | os.PathLike[str] | dict[str, Any], origin: str = "dataset registry"
) -> dict[str, Any]:
    """A registry (`datasets:` and optional `sources:`) from a YAML file or a dict (from `origin`),
    schema-checked."""
    if isinstance(source, dict):
        registry = source
    else:
        from pipeline.io import load_yaml

        origin = f"dataset registry {source}"
        registry = load_yaml(Path(source).read_text(encoding="utf-8"))
        if not isinstance(registry, dict):
            raise ValueError(f"{source}: a dataset registry must be a mapping with key 'datasets'")
    _validate(registry, origin)
    return registry


def load_registry(
    source: str | os.PathLike[str] | dict[str, Any], origin: str = "dataset registry"
) -> dict[str, DatasetSpec]:
    """Specs by dataset name from a registry YAML file or an already-loaded dict (from `origin`)."""
    registry = read_registry(source, origin)
    return {name: spec_from_dict(name, entry) for name, entry in registry["datasets"].items()}


def spec_from_dict(name: str, entry: dict[str, Any]) -> DatasetSpec:
    """One registry entry (already schema-valid) as a spec."""
    return DatasetSpec(
        name=name,
        task=entry["task"],
        reader=entry["reader"],
        path=entry["path"],
        languages=tuple(entry["languages"]),
        subtasks={k: dict(v or {}) for k, v in entry["subtasks"].items()},
        options=dict(entry.get("options") or {}),
        carve=tuple(entry.get("carve") or ()),
        max_train=entry.get("max_train"),
        max_test=entry.get("max_test"),
    )


def cells(spec: DatasetSpec) -> list[Cell]:
    """The evaluation cells (dataset, language, sub-task) of one dataset."""
    return [(spec.name, language, subtask) for language in spec.languages for subtask in spec.subtasks]


def data_path(name: str, spec: DatasetSpec, language: str, base_dir: Path | None = None) -> Path:
    """Where a language's data lies: `path` (or `path[language]`), resolved by `pipeline.paths.resolve`."""
    raw = spec.path
    if isinstance(raw, dict):
        if language not in raw:
            raise ValueError(f"dataset {name!r}: no path for language {language!r} in {sorted(raw)}")
        raw = raw[language]
    return resolve(raw, base_dir)


def reader_options(spec: DatasetSpec, language: str) -> dict[str, Any]:
    """`options` with `options.languages[language]` merged over it (per-language layouts)."""
    options = {k: v for k, v in spec.options.items() if k != "languages"}
    return {**options, **(spec.options.get("languages") or {}).get(language, {})}


def _restrict(task: str, gold: dict[str, Any], sub: dict[str, Any]) -> dict[str, Any]:
    """Gold of a document restricted to one sub-task."""
    labels = set(sub.get("labels", []))
    if task in ("ner", "argmining"):
        ents = gold["entities"]
        return {"entities": [e for e in ents if not labels or e["label"] in labels]}
    if task == "re":
        kinds = set(sub.get("relations", []))
        rels = [r for r in gold["relations"] if not kinds or r["relation"] in kinds]
        args = {(s["start"], s["end"], s["label"]): s for r in rels for s in (r["head"], r["tail"])}
        ents = {(e["start"], e["end"], e["label"]): e for e in gold["entities"] if e["label"] in labels}
        merged = sorted({**ents, **args}.values(), key=lambda s: (s["start"], s["end"], s["label"]))
        return {"entities": merged, "relations": rels}
    if task == "qa":
        return {**gold, "context": gold.get("context") if sub.get("context", True) else None}
    wanted = sub.get("items")
    if wanted is None:
        return {"items": dict(gold["items"])}
    items = {}
    for pattern in wanted:  # an item name, or a glob such as "history/*"
        names = fnmatch.filter(gold["items"], pattern) if any(c in pattern for c in "*?[") else [pattern]
        items.update({k: gold["items"].get(k) for k in names})
    return {"items": items}


def _check_labels(name: str, spec: DatasetSpec, docs: list[Document]) -> None:
    """Fail on a sub-task whose labels or relations never occur (a typo in the registry)."""
    seen: Counter[str] = Counter()
    for d in docs:
        seen.update(e["label"] for e in d.gold.get("entities", []))
        seen.update(r["relation"] for r in d.gold.get("relations", []))
        seen.update(list(d.gold.get("items", {})))
    for subtask, sub in spec.subtasks.items():
        for key in ("labels", "relations", "items"):
            wanted = sub.get(key)
            if wanted and not any(fnmatch.filter(seen, w) for w in wanted):
                raise ValueError(
                    f"dataset {name!r} sub-task {subtask!r}: none of {key} {wanted} occurs in the data "
                    f"(seen: {sorted(seen)})"
                )


def load_documents(
    name: str,
    spec: DatasetSpec,
    language: str,
    base_dir: Path | None = None,
    *,
    seed: int = 0,
    max_train: int | None = None,
    max_test: int | None = None,
) -> list[Document]:
    """One language's documents, split (seeded `carve`) and capped (spec caps win over the arguments)."""
    path = data_path(name, spec, language, base_dir)
    if not path.exists():
        raise FileNotFoundError(f"dataset {name!r}: data not found at {path} ({DOCS_HINT})")
    try:
        docs = get_reader(spec.reader)(path, language, reader_options(spec, language))
    except FileNotFoundError as err:
        raise FileNotFoundError(f"dataset {name!r}: data not found at {path} ({DOCS_HINT}): {err}") from None
    except ValueError:
        raise  # the reader names the file and line
    except (TypeError, KeyError, AttributeError, IndexError, UnicodeError, RecursionError, OSError) as err:
        # a shape no reader check foresaw: still name the dataset and where its data lies
        raise ValueError(
            f"dataset {name!r} ({language}): unreadable data under {path}: {type(err).__name__}: {err}"
        ) from err
    dupes = [i for i, n in Counter(d.id for d in docs).items() if n > 1]
    if dupes:
        raise ValueError(f"dataset {name!r} ({language}): duplicate document id(s) {dupes[:5]} in {path}")
    key = f"{name}:{language}"
    docs = carve(docs, spec.carve, seed, key)
    docs = cap(docs, "train", spec.max_train if spec.max_train is not None else max_train, seed, key)
    return cap(docs, "test", spec.max_test if spec.max_test is not None else max_test, seed, key)


def _subtask_metadata(sub: dict[str, Any]) -> dict[str, Any]:
    """What prompts need to know of a sub-task: its entity labels, relation types, CRF items."""
    return {key: list(sub[key]) for key in ("labels", "relations", "items") if key in sub}


def load_examples(
    name: str,
    spec: DatasetSpec,
    base_dir: Path | None = None,
    *,
    seed: int = 0,
    max_train: int | None = None,
    max_test: int | None = None,
) -> list[Example]:
    """Every example of a dataset: languages × sub-tasks × splits, in registry then source order."""
    if spec.task not in TASKS:
        raise ValueError(f"dataset {name!r}: unknown task {spec.task!r}")
    per_language = {
        lang: load_documents(name, spec, lang, base_dir, seed=seed, max_train=max_train, max_test=max_test)
        for lang in spec.languages
    }
    _check_labels(name, spec, [d for docs in per_language.values() for d in docs])
    examples = []
    for language, docs in per_language.items():
        for subtask, sub in spec.subtasks.items():
            for split in SPLITS:
                examples.extend(
                    Example(
                        id=f"{name}/{language}/{subtask}/{split}/{d.id}",
                        dataset=name,
                        task=spec.task,
                        language=language,
                        subtask=subtask,
                        split=split,
                        text=d.text,
                        gold=_restrict(spec.task, d.gold, sub),
                        metadata={"doc_id": d.id, **d.metadata, **_subtask_metadata(sub)},
                    )
                    for d in docs
                    if d.split == split
                )
    return examples
