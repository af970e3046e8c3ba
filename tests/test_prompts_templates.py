"""The per-language strings and description tables are complete and consistent."""

from __future__ import annotations

import string
from dataclasses import fields

import pytest

from pipeline.examples import TASKS
from pipeline.tasks.templates import (
    ENTITY_ALIASES,
    ENTITY_DESCRIPTIONS,
    RELATION_ALIASES,
    RELATION_DESCRIPTIONS,
    STRINGS,
    Strings,
    describe,
    normalise_key,
    normalise_language,
)


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


def flat(strings: Strings) -> dict[str, str]:
    """Every template of a language, by a stable path."""
    out = {}
    for f in fields(strings):
        value = getattr(strings, f.name)
        if isinstance(value, str):
            out[f.name] = value
        elif isinstance(value, tuple):
            out.update({f"{f.name}[{i}]": v for i, v in enumerate(value)})
        else:
            for key, v in value.items():
                items = v if isinstance(v, tuple) else (v,)
                out.update({f"{f.name}.{key}[{i}]": s for i, s in enumerate(items)})
    return out


@pytest.mark.parametrize("lang", sorted(STRINGS))
def test_every_language_has_every_template_with_the_same_placeholders(lang):
    english, other = flat(STRINGS["en"]), flat(STRINGS[lang])
    assert english.keys() == other.keys()
    for key, template in english.items():
        assert other[key].strip(), key
        assert placeholders(other[key]) == placeholders(template), key


def test_templates_cover_every_task():
    for strings in STRINGS.values():
        assert set(strings.task_descriptions) == set(TASKS)
        assert set(strings.rules) == set(TASKS)
        assert set(strings.rot_questions) == set(strings.rot_answers) == set(TASKS) - {"qa"}
        assert all("{layout}" in t for t in strings.rot_answers.values())


def test_description_tables_cover_every_language_and_aliases_resolve():
    for table, aliases in ((ENTITY_DESCRIPTIONS, ENTITY_ALIASES), (RELATION_DESCRIPTIONS, RELATION_ALIASES)):
        for key, row in table.items():
            assert key == normalise_key(key)
            assert set(row) == set(STRINGS), key
            assert all(text.strip() for text in row.values()), key
        for alias, target in aliases.items():
            assert alias == normalise_key(alias) and target in table, alias


def test_lookup_normalises_names():
    assert (
        describe("MORFOLOGIA_NEOPLASIA", ENTITY_DESCRIPTIONS, ENTITY_ALIASES, "it") == "morfologie tumorali"
    )
    assert describe("Body Part", ENTITY_DESCRIPTIONS, ENTITY_ALIASES, "en") == "body parts"
    assert describe("unknown", ENTITY_DESCRIPTIONS, ENTITY_ALIASES, "en") is None
    assert normalise_language(" EN_gb ") == "en"
