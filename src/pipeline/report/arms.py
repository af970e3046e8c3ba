"""What each arm trains on, read from the grid: data, languages, size caps, evaluation style.

Arms that differ only in their size caps form a data-size family (Sub-RQ2); arms that differ
only in their languages a language family (Sub-RQ5); arms that differ only in their
evaluation style a style pair (explanation stability).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from pipeline.io import canonical_json

SIZE_KEYS = (
    "token_budget",
    "max_examples_per_task",
    "max_examples_per_cell",
    "max_examples",
    "token_budget_words",
)
STEP_NAME = re.compile(r"^(?P<parent>.+)@step-(?P<step>\d+)$")


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
        return STEP_NAME.match(self.arm) is not None

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


def _profile(name: str, spec: dict[str, Any], grid: dict[str, Any], styles: dict[str, str]) -> Profile:
    method = spec["method"]
    rest, caps, languages = _split(spec.get("settings") or {})
    data = spec.get("mix") if method == "sft" else spec.get("corpus") if method == "cpt" else None
    signature: dict[str, Any] = {"method": method, "parent": spec.get("parent"), "settings": rest}
    if method == "sft":
        mix = (grid.get("mixes") or {}).get(data)
        if mix is None:
            raise ValueError(f"--grid: arms.{name}.mix names no mix ({data!r})")
        mix_rest, mix_caps, mix_languages = _split(mix.get("settings") or {})
        signature.update(kind=mix["kind"], traces=sorted(mix.get("traces") or []), mix=mix_rest)
        caps = {**mix_caps, **caps}
        languages = languages or mix_languages
    elif method == "cpt":
        corpus_section = grid.get("corpus") or {}
        corpus = (corpus_section.get("corpora") or {}).get(data)
        if corpus is None:
            raise ValueError(f"--grid: arms.{name}.corpus names no corpus ({data!r})")
        sources = corpus_section.get("sources") or {}
        unknown = [s for s in corpus["sources"] if s not in sources]
        if unknown:
            raise ValueError(f"--grid: corpus.corpora.{data} names unknown source(s) {unknown}")
        kinds = sorted({(sources[s].get("format"), sources[s].get("doc_type")) for s in corpus["sources"]})
        signature.update(kinds=kinds, corpus={k: v for k, v in corpus.items() if k != "sources"})
        languages = languages or sorted({sources[s]["language"] for s in corpus["sources"]})
    style = styles.get(name) or spec.get("eval_style", "json")
    return Profile(
        arm=name,
        method=method,
        parent=spec.get("parent"),
        data=data,
        languages=tuple(sorted(languages)) if languages else None,
        caps=tuple(sorted(caps.items())),
        style=style,
        family=canonical_json(signature),
    )


def profiles(grid: dict[str, Any], styles: dict[str, str]) -> dict[str, Profile]:
    """The profile of every arm of the grid."""
    return {name: _profile(name, spec, grid, styles) for name, spec in sorted(grid["arms"].items())}


def lineage(grid: dict[str, Any], arm: str) -> list[str]:
    """The arms from `base` to `arm`, e.g. ['base', 'cpt', 'cpt-it']."""
    chain = [arm]
    while chain[-1] != "base":
        parent = grid["arms"].get(chain[-1], {}).get("parent")
        if parent is None or parent in chain:
            raise ValueError(f"--grid: arms.{arm}: parent chain does not reach 'base' ({' -> '.join(chain)})")
        chain.append(parent)
    return chain[::-1]


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


def checkpoint_steps(arms: list[str], progression: dict[str, int]) -> dict[str, int]:
    """Arm → CPT step: `base` is step 0, arms named `X@step-N` step N, then the `progression` setting."""
    steps = {"base": 0} if "base" in arms else {}
    for arm in arms:
        match = STEP_NAME.match(arm)
        if match:
            steps[arm] = int(match["step"])
    steps.update({a: s for a, s in progression.items() if a in arms})
    return dict(sorted(steps.items(), key=lambda kv: (kv[1], kv[0])))
