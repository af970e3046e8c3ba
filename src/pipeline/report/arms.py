"""What each arm trains on, read from the workflow's `Grid`: data, languages, size caps, evaluation
style, and where CPT checkpoints sit on the progression.

Arms that differ only in their size caps form a data-size family (Sub-RQ2); arms that differ
only in their languages a language family (Sub-RQ5); arms that differ only in their
evaluation style a style pair (explanation stability).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from pipeline.dag.grid import Arm, Grid
from pipeline.io import canonical_json

SIZE_KEYS = (
    "token_budget",
    "max_examples_per_task",
    "max_examples_per_cell",
    "max_examples",
    "token_budget_words",
)


@dataclass(frozen=True)
class Profile:
    """An arm's training data, as far as the analyses need it."""

    arm: str
    method: str
    parent: str | None
    data: str | None  # the mix (sft) or corpus (cpt)
    languages: tuple[str, ...] | None  # None: not restricted
    caps: tuple[tuple[str, Any], ...]  # size settings, e.g. (("max_examples_per_task", 100),)
    style: str
    family: str  # everything else, canonical: equal families differ only in languages, caps, style

    @property
    def capped(self) -> bool:
        return bool(self.caps)

    @property
    def checkpoint(self) -> bool:
        return self.method == "checkpoint"

    @property
    def single_language(self) -> str | None:
        return self.languages[0] if self.languages is not None and len(self.languages) == 1 else None


def _split(settings: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], list[str] | None]:
    """(other settings, size caps, languages) of a settings mapping (languages also under `filter`)."""
    rest = {k: v for k, v in settings.items() if k not in SIZE_KEYS and k != "languages"}
    caps = {k: settings[k] for k in SIZE_KEYS if settings.get(k) is not None}
    languages = settings.get("languages")
    filters = settings.get("filter")
    if isinstance(filters, dict):
        rest["filter"] = {k: v for k, v in filters.items() if k != "languages"}
        languages = filters.get("languages") or languages
    return rest, caps, languages


def _profile(arm: Arm, grid: Grid, styles: dict[str, str]) -> Profile:
    rest, caps, languages = _split(arm.spec.get("settings") or {})
    data = (
        arm.spec.get("mix")
        if arm.method == "sft"
        else arm.spec.get("corpus")
        if arm.method == "cpt"
        else None
    )
    signature: dict[str, Any] = {"method": arm.method, "parent": arm.parent, "settings": rest}
    if arm.method == "sft":
        mix = grid.config["mixes"][data]
        mix_rest, mix_caps, mix_languages = _split(mix.get("settings") or {})
        signature.update(kind=mix["kind"], traces=sorted(mix.get("traces") or []), mix=mix_rest)
        caps = {**mix_caps, **caps}
        languages = languages or mix_languages
    elif arm.method == "cpt":
        corpus = grid.config["corpus"]["corpora"][data]
        sources = grid.config["corpus"]["sources"]
        kinds = sorted({(sources[s].get("format"), sources[s].get("doc_type")) for s in corpus["sources"]})
        signature.update(kinds=kinds, corpus={k: v for k, v in corpus.items() if k != "sources"})
        languages = languages or sorted({sources[s]["language"] for s in corpus["sources"]})
    return Profile(
        arm=arm.name,
        method=arm.method,
        parent=arm.parent,
        data=data,
        languages=tuple(sorted(languages)) if languages else None,
        caps=tuple(sorted(caps.items())),
        style=styles.get(arm.name) or arm.eval_style,
        family=canonical_json(signature),
    )


def profiles(grid: Grid, styles: dict[str, str]) -> dict[str, Profile]:
    """The profile of every arm of the grid."""
    return {name: _profile(arm, grid, styles) for name, arm in sorted(grid.arms.items())}


def _joint(members: list[Profile]) -> Profile | None:
    """The member trained on every language of the family (unrestricted, or the most languages > 1)."""
    candidates = [p for p in members if p.languages is None or len(p.languages) > 1]
    if not candidates:
        return None
    return max(candidates, key=lambda p: (p.languages is None, len(p.languages or ()), p.arm))


def size_families(profs: dict[str, Profile]) -> dict[str, list[Profile]]:
    """Data-size families: the uncapped arm's name → its capped arms + itself (same style and languages)."""
    groups: dict[tuple[str, str, Any], list[Profile]] = defaultdict(list)
    for p in profs.values():
        if p.method in ("sft", "cpt") and not p.checkpoint:
            groups[(p.family, p.style, p.languages)].append(p)
    out = {}
    for members in groups.values():
        if any(p.capped for p in members):
            full = [p for p in members if not p.capped]
            name = full[0].arm if full else min(p.arm for p in members)
            out[name] = sorted(members, key=lambda p: (not p.capped, p.arm))
    return dict(sorted(out.items()))


def language_families(profs: dict[str, Profile]) -> dict[str, tuple[list[Profile], Profile | None]]:
    """Language families: a name → (single-language arms, the joint arm or None)."""
    groups: dict[tuple[str, str], list[Profile]] = defaultdict(list)
    for p in profs.values():
        if p.method in ("sft", "cpt") and not p.capped and not p.checkpoint:
            groups[(p.family, p.style)].append(p)
    out = {}
    for members in groups.values():
        mono = sorted((p for p in members if p.single_language), key=lambda p: p.single_language or "")
        if mono:
            joint = _joint(members)
            out[joint.arm if joint else mono[0].arm] = (mono, joint)
    return dict(sorted(out.items()))


def style_pairs(profs: dict[str, Profile]) -> list[tuple[Profile, Profile]]:
    """(answer-only arm, explain arm) pairs that differ only in their evaluation style."""
    groups: dict[tuple[str, Any, Any], dict[str, Profile]] = defaultdict(dict)
    for p in profs.values():
        if not p.checkpoint:
            groups[(p.family, p.languages, p.caps)].setdefault(p.style, p)
    return sorted(
        ((g["json"], g["reasoning"]) for g in groups.values() if "json" in g and "reasoning" in g),
        key=lambda pair: pair[0].arm,
    )


def checkpoint_steps(grid: Grid, arms: list[str], progression: dict[str, int]) -> dict[str, int]:
    """Arm → CPT step of those `arms` on the progression: `base` at 0, the grid's checkpoint arms at
    their `step`, then the `progression` setting; ordered by step."""
    steps = {"base": 0} if "base" in arms else {}
    steps.update({a: grid.arms[a].spec["step"] for a in arms if a in grid.arms_with("checkpoint")})
    steps.update({a: s for a, s in progression.items() if a in arms})
    return dict(sorted(steps.items(), key=lambda kv: (kv[1], kv[0])))
