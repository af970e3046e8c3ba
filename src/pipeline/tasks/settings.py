"""Settings of the task stages: extracting a dataset's examples (the split caps), reading a source
of reasoning traces and building a training mix (docs/datasets.md). Torch-free: the workflow checks
them when it starts (`pipeline.settings`)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import ClassVar, Literal

from pipeline.settings import SettingsError, StageSettings, at_least, require

Task = Literal["ner", "re", "qa", "crf", "argmining"]  # pipeline.examples.TASKS
# The column sets of pipeline.tasks.readers.reasoning.FIELDS (spelt out: that module is the job's).
TraceReader = Literal["reasoning_csv", "reasoning_jsonl", "medical_o1", "medreason"]
TRACE_COLUMNS = ("question", "reasoning", "answer", "language")  # what `fields` may rename
DecontaminationAction = Literal["drop", "flag"]
DecontaminationScope = Literal["other_datasets", "all"]
LANGUAGE = re.compile(r"[a-z]{2}")


def check_prompt_language(settings: StageSettings) -> None:
    """`prompt_language`: an ISO 639-1 code, or "example" (each example's own language)."""
    value = settings.prompt_language  # type: ignore[attr-defined]
    require(
        value == "example" or LANGUAGE.fullmatch(value) is not None,
        "prompt_language",
        f'must be an ISO 639-1 code or "example", got {value!r}',
    )


@dataclass(frozen=True)
class ExtractSettings(StageSettings):
    """`pipeline.tasks.extract`: caps per language on the examples of a split (a dataset's own win)."""

    WHERE = "splits"

    seed: int = 0
    max_train: int | None = None
    max_test: int | None = None

    def validate(self) -> None:
        at_least(self, 1, "max_train", "max_test")


def check_language(code: str, path: str) -> None:
    require(LANGUAGE.fullmatch(code) is not None, path, f"must be an ISO 639-1 code, got {code!r}")


@dataclass(frozen=True)
class TracesSettings(StageSettings):
    """A source of reasoning traces, `pipeline.tasks.traces`: a file or folder, its column set
    (`reader`) with `fields` renaming columns, the language of rows without a language column, and
    the languages kept (null: all)."""

    WHERE = "traces"

    path: str
    reader: TraceReader
    language: str = "en"
    languages: tuple[str, ...] | None = None
    fields: dict[str, str] = field(default_factory=dict)

    def validate(self) -> None:
        require(bool(self.path), "path", "must be a file or folder, got ''")
        check_language(self.language, "language")
        require(self.languages != (), "languages", "must name at least one language (null: all)")
        for i, code in enumerate(self.languages or ()):
            check_language(code, f"languages[{i}]")
        unknown = sorted(set(self.fields) - set(TRACE_COLUMNS))
        if unknown:
            raise SettingsError("fields", f"unknown key(s) {unknown} (known: {sorted(TRACE_COLUMNS)})")
        for key, column in self.fields.items():
            require(bool(column), f"fields.{key}", "must be a column name, got ''")


@dataclass(frozen=True)
class _MixSettings(StageSettings):
    """What both kinds of mix share: languages, prompt language, decontamination, seed."""

    CAPS: ClassVar[tuple[str, ...]] = ()  # the positive caps of the kind

    languages: tuple[str, ...] | None = None
    prompt_language: str = "en"
    strict_language: bool = False
    decontamination_action: DecontaminationAction = "drop"
    decontamination_scope: DecontaminationScope = "other_datasets"
    decontamination_ngram: int = 13
    seed: int = 0

    def validate(self) -> None:
        at_least(self, 1, "decontamination_ngram", *self.CAPS)
        check_prompt_language(self)


@dataclass(frozen=True)
class ITSettings(_MixSettings):
    """An IT mix (instruction → JSON answer), `pipeline.tasks.mix`."""

    WHERE = "it mix settings"
    CAPS = ("max_examples_per_task", "max_examples_per_cell")

    tasks: tuple[Task, ...] | None = None
    max_examples_per_task: int | None = None
    max_examples_per_cell: int | None = None


@dataclass(frozen=True)
class RoTSettings(_MixSettings):
    """A RoT mix (question → reasoning → conclusion), `pipeline.tasks.mix`."""

    WHERE = "rot mix settings"
    CAPS = ("max_examples", "token_budget_words")

    max_examples: int | None = None
    token_budget_words: int | None = None
    qa_explanations: bool = True


MIX_SETTINGS: dict[str, type[ITSettings] | type[RoTSettings]] = {"it": ITSettings, "rot": RoTSettings}
