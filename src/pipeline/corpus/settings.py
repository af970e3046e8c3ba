"""Settings of the corpus stages: cleaning a source, building a corpus, cutting it into blocks
(docs/corpus.md). Torch-free: the workflow checks them when it starts (`pipeline.settings`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pipeline.settings import StageSettings, at_least, require

LicenceClass = Literal["commercial", "research_only"]  # pipeline.corpus.licences.CLASSES


@dataclass(frozen=True)
class CleanSettings(StageSettings):
    """`pipeline.corpus.clean`: the rules (each switchable) and the document filters."""

    WHERE = "corpus.cleaning"

    nfc: bool = True
    control_characters: bool = True
    urls: bool = True
    whitespace: bool = True
    charset: bool = True
    extra_characters: str = ""  # allowed beside the language's alphabet
    collapse_punctuation: bool = True
    max_punctuation_run: int = 3
    min_words: int = 20
    min_alpha_ratio: float = 0.5
    batch_size: int = 1000
    workers: int = 1

    def validate(self) -> None:
        at_least(self, 1, "max_punctuation_run", "batch_size", "workers")
        at_least(self, 0, "min_words")
        require(
            0 <= self.min_alpha_ratio <= 1,
            "min_alpha_ratio",
            f"must be in [0, 1], got {self.min_alpha_ratio!r}",
        )

    @property
    def rules(self) -> list[str]:
        """The rules whose work the statistics count: the switches and the two document filters."""
        switches = [k for k, v in self.to_dict().items() if isinstance(v, bool)]
        return [*switches, "min_words", "min_alpha_ratio"]


@dataclass(frozen=True)
class DedupSettings(StageSettings):
    exact: bool = True
    near: bool = True  # MinHash LSH
    threshold: float = 0.8
    num_perm: int = 128
    shingle: int = 5

    def validate(self) -> None:
        require(0 < self.threshold <= 1, "threshold", f"must be in (0, 1], got {self.threshold!r}")
        at_least(self, 1, "num_perm", "shingle")


@dataclass(frozen=True)
class DecontaminationSettings(StageSettings):
    ngram: int = 13
    action: Literal["drop", "flag"] = "drop"

    def validate(self) -> None:
        at_least(self, 1, "ngram")


@dataclass(frozen=True)
class BuildSettings(StageSettings):
    """`pipeline.corpus.build`: one named corpus (its sources are the job's inputs)."""

    WHERE = "corpus.corpora"

    licence_subset: Literal["all", "commercial"] = "all"
    licence_classes: dict[str, LicenceClass] = field(default_factory=dict)  # licence -> class
    languages: tuple[str, ...] | None = None
    dedup: DedupSettings = field(default_factory=DedupSettings)
    decontamination: DecontaminationSettings = field(default_factory=DecontaminationSettings)
    seed: int = 0
    batch_size: int = 1000
    workers: int = 1
    report_limit: int = 100  # documents listed per reason in the report

    def validate(self) -> None:
        at_least(self, 1, "batch_size", "workers")
        at_least(self, 0, "report_limit")


@dataclass(frozen=True)
class BlocksSettings(StageSettings):
    """`pipeline.corpus.blocks`: fixed-length token blocks of a corpus and their split."""

    WHERE = "corpus.blocks"

    block_size: int = 2048
    stride: int | None = None  # null: block_size (no overlap)
    min_remainder: int | None = None  # null: block_size (a shorter last piece is dropped)
    validation_fraction: float = 0.01
    seed: int = 0
    batch_size: int = 1000

    def validate(self) -> None:
        at_least(self, 1, "block_size", "stride", "min_remainder", "batch_size")
        if self.stride is not None:
            require(
                self.stride <= self.block_size,
                "stride",
                f"must be at most block_size {self.block_size}, got {self.stride!r}",
            )
        require(
            0 <= self.validation_fraction < 1,
            "validation_fraction",
            f"must be in [0, 1), got {self.validation_fraction!r}",
        )
