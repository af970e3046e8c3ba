"""Stage settings: one frozen dataclass per stage, checked from its config mapping or its JSON.

Every stage (generation, training methods, scoring, corpus...) declares its settings as a subclass
of `StageSettings` beside its code: the fields and their defaults are the settings and their
defaults, the annotations their types, and `validate` the rules on values and between keys. The
grid (`pipeline.dag.grid.Grid.stage_settings`) resolves each stage's settings for every model × arm at
DAG time; a job gets them as one canonical JSON string (`to_json`) and reads them with `from_json`.

Torch-free by rule: these modules are imported when the workflow starts.
"""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from collections.abc import Mapping
from functools import cache
from importlib import import_module
from typing import Any, ClassVar, Literal, Protocol, TypeVar, Union

from pipeline.io import canonical_json

S = TypeVar("S", bound="StageSettings")

# Stage name -> its settings class (module:name), imported on first use.
STAGES = {
    "generation": "pipeline.evaluate.settings:GenerationSettings",
    "stability": "pipeline.evaluate.settings:StabilitySettings",
    "loglik": "pipeline.evaluate.settings:LoglikSettings",
    "lm_eval": "pipeline.evaluate.settings:LmEvalSettings",
    "score": "pipeline.evaluate.settings:ScoreSettings",
    "summary": "pipeline.evaluate.settings:SummarySettings",
    "report": "pipeline.report.settings:ReportSettings",
    "corpus_clean": "pipeline.corpus.settings:CleanSettings",
    "corpus_build": "pipeline.corpus.settings:BuildSettings",
    "corpus_blocks": "pipeline.corpus.settings:BlocksSettings",
    "cpt": "pipeline.train.cpt_settings:CptSettings",
    "sft": "pipeline.train.settings:SftSettings",
    "rpo": "pipeline.train.settings:RpoSettings",
    "preferences": "pipeline.train.settings:PreferenceSettings",
    "merge": "pipeline.merge.settings:MergeSettings",
    "extract": "pipeline.tasks.settings:ExtractSettings",
    "traces": "pipeline.tasks.settings:TracesSettings",
    "it_mix": "pipeline.tasks.settings:ITSettings",
    "rot_mix": "pipeline.tasks.settings:RoTSettings",
}


class Settings(Protocol):
    """What every stage's settings offer (`StageSettings`, and the merge stage's own class)."""

    def to_dict(self) -> dict[str, Any]: ...

    def to_json(self) -> str: ...


def settings_class(stage: str) -> Any:
    """The settings class of `stage` (a key of `STAGES`)."""
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r} (known: {sorted(STAGES)})")
    module, name = STAGES[stage].split(":")
    return getattr(import_module(module), name)


class SettingsError(ValueError):
    """A bad setting: `path` is its key inside the settings (empty: the whole mapping)."""

    def __init__(self, path: str, why: str) -> None:
        self.path, self.why = path, why
        super().__init__(f"{path}: {why}" if path else why)

    def within(self, key: str) -> SettingsError:
        """The same error one level up, under `key`."""
        return SettingsError(f"{key}.{self.path}" if self.path else key, self.why)

    def at(self, where: str) -> str:
        """The message with the key's config path: `where` is the settings' path, maybe with a note,
        e.g. ``arms.it.settings (over training.sft)`` -> ``arms.it.settings.lr (over training.sft): ...``."""
        if not self.path:
            return f"{where}: {self.why}"
        path, sep, note = where.partition(" (")
        return f"{path}.{self.path}{' (' + note if sep else ''}: {self.why}"


def parse_json_object(text: str, where: str) -> dict[str, Any]:
    """The JSON object of a `--settings` argument."""
    try:
        value = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as err:
        raise ValueError(f"{where}: --settings is not valid JSON ({err.msg})") from None
    if not isinstance(value, dict):
        raise ValueError(f"{where}: --settings must be a JSON object, got {text!r}")
    return value


@dataclasses.dataclass(frozen=True)
class StageSettings:
    """Base of a stage's settings: typed fields with defaults, checked on construction.

    Subclasses are frozen dataclasses; a field typed as another `StageSettings` is a nested section
    (given as a mapping). Lists arrive as tuples where the field says `tuple[...]`.
    """

    # Where `from_json` says the settings come from when no config path is known.
    WHERE: ClassVar[str] = "settings"
    # Nested sections whose null means "the defaults" (`filter: null`).
    NULL_IS_DEFAULT: ClassVar[frozenset[str]] = frozenset()

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            hint = _hints(type(self))[f.name]
            value = getattr(self, f.name)
            if value is None and f.name in self.NULL_IS_DEFAULT:
                value = {}
            object.__setattr__(self, f.name, _checked(value, hint, f.name))
        self.validate()

    def validate(self) -> None:
        """Rules on values and between keys beyond the types; raise `SettingsError`."""

    @classmethod
    def from_mapping(cls: type[S], mapping: Any, where: str | None = None) -> S:
        """The settings of `mapping` over the defaults; an unknown key, a wrong type or a bad value
        raises ValueError naming `where` (a config path, e.g. ``arms.it.settings``) and the key."""
        try:
            return cls._build(mapping)
        except SettingsError as err:
            raise ValueError(err.at(where or cls.WHERE)) from None

    @classmethod
    def from_json(cls: type[S], text: str, where: str | None = None) -> S:
        """The settings of a `--settings` JSON object."""
        return cls.from_mapping(parse_json_object(text, where or cls.WHERE), where)

    @classmethod
    def _build(cls: type[S], mapping: Any) -> S:
        if not isinstance(mapping, Mapping):
            raise SettingsError("", f"must be a mapping of settings, got {mapping!r}")
        fields = [f for f in dataclasses.fields(cls) if f.init]
        known = [f.name for f in fields]
        unknown = sorted(set(mapping) - set(known), key=str)
        if unknown:
            raise SettingsError("", f"unknown key(s) {unknown} (known: {sorted(known)})")
        missing = [
            f.name
            for f in fields
            if f.name not in mapping
            and f.default is dataclasses.MISSING
            and f.default_factory is dataclasses.MISSING
        ]
        if missing:
            raise SettingsError("", f"missing key(s) {missing}")
        return cls(**mapping)

    @classmethod
    def keys(cls) -> set[str]:
        """The names of the settings."""
        return {f.name for f in dataclasses.fields(cls) if f.init}

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values: nested sections as mappings, tuples as lists."""
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self) if f.init}

    def to_json(self) -> str:
        """Canonical JSON (the job's `--settings`, and its rerun trigger)."""
        return canonical_json(self.to_dict())


def _plain(value: Any) -> Any:
    if isinstance(value, StageSettings):
        return value.to_dict()
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _is_settings(hint: Any) -> bool:
    return isinstance(hint, type) and issubclass(hint, StageSettings)


def describe(hint: Any) -> str:
    """What a value of type `hint` is, in words."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return "anything"
    if hint is type(None):
        return "null"
    if hint is bool:
        return "true or false"
    if hint is int:
        return "an integer"
    if hint is float:
        return "a number"
    if hint is str:
        return "a string"
    if _is_settings(hint):
        return f"a mapping of {hint.__name__} keys"
    if origin is Literal:
        return "one of " + ", ".join(json.dumps(a) for a in args)
    if origin in (Union, types.UnionType):
        return " or ".join(describe(a) for a in args)
    if origin in (tuple, list):
        return f"a list, each item {describe(args[0])}"
    if origin is dict:
        return f"a mapping of names to {describe(args[1])}"
    return getattr(hint, "__name__", str(hint))


def _same_shape(value: Any, hint: Any) -> bool:
    """Whether `value` is a mapping or list as `hint` wants, so that its error is about its contents."""
    origin = typing.get_origin(hint)
    if _is_settings(hint) or origin is dict:
        return isinstance(value, Mapping)
    return origin in (tuple, list) and isinstance(value, list | tuple)


def _checked(value: Any, hint: Any, path: str) -> Any:
    """`value` as a value of `hint` (lists as tuples for tuple fields, mappings as nested settings);
    raises SettingsError naming `path` when it is none."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (Union, types.UnionType):
        inside = None  # the error of an option of the value's shape (a mapping, a list): its own words
        for option in args:
            try:
                return _checked(value, option, path)
            except SettingsError as err:
                inside = inside or (err if _same_shape(value, option) else None)
        raise inside or SettingsError(path, f"must be {describe(hint)}, got {value!r}")
    if _is_settings(hint):
        if isinstance(value, hint):
            return value
        try:
            return hint._build(value)
        except SettingsError as err:
            raise err.within(path) from None
    if origin is tuple or origin is list:
        if not isinstance(value, list | tuple):
            raise SettingsError(path, f"must be {describe(hint)}, got {value!r}")
        items = [_checked(v, args[0], f"{path}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
            raise SettingsError(path, f"must be {describe(hint)}, got {value!r}")
        return {k: _checked(v, args[1], f"{path}.{k}") for k, v in value.items()}
    if origin is Literal:
        if not any(value == a and type(value) is type(a) for a in args):
            raise SettingsError(path, f"must be {describe(hint)}, got {value!r}")
        return value
    if hint is Any:
        return value
    if hint is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    elif hint is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif hint is type(None):
        ok = value is None
    else:
        ok = isinstance(value, hint)
    if not ok:
        raise SettingsError(path, f"must be {describe(hint)}, got {value!r}")
    return value


def require(ok: bool, path: str, why: str) -> None:
    """Raise SettingsError(path, why) unless `ok`."""
    if not ok:
        raise SettingsError(path, why)


def at_least(settings: Any, low: int, *keys: str) -> None:
    """Each of `keys` of `settings` is null or at least `low`."""
    for key in keys:
        value = getattr(settings, key)
        if value is not None and value < low:
            raise SettingsError(key, f"must be at least {low}, got {value!r}")
