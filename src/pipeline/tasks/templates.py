"""Prompt strings per language, and the entity/relation description tables.

Languages are data: add one by adding a `Strings` entry to `STRINGS` and a translation to every
row of `ENTITY_DESCRIPTIONS` / `RELATION_DESCRIPTIONS` (tests check that nothing is missing).
Placeholders (``{entities}``, ``{relations}``, ``{relation_names}``, ``{items}``, ``{layout}``,
``{label}``, ``{answer}``, ``{types}``) are filled by `pipeline.tasks.prompts`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Strings:
    """Everything a prompt says in one language."""

    rules_header: str
    output_format: str
    layout_intro: str
    text_label: str
    question_label: str
    context_label: str
    explanation_label: str
    and_word: str
    unnamed_entities: str
    task_descriptions: dict[str, str]
    rules: dict[str, tuple[str, ...]]
    rot_questions: dict[str, str]
    rot_answers: dict[str, str]
    qa_answer_only: str
    qa_explain: str
    typed_rule: str
    layout_entities: tuple[str, str]
    layout_head: str
    layout_tail: str
    layout_value: str
    layout_claim: str
    layout_premise: str


EN = Strings(
    rules_header="Rules:",
    output_format=(
        "Output Format: Provide your answer as a JSON object. ONLY the JSON object, with no other text."
    ),
    layout_intro="Example:",
    text_label="Text",
    question_label="Question",
    context_label="Context",
    explanation_label="Explanation",
    and_word="and",
    unnamed_entities='entities of type "{label}"',
    task_descriptions={
        "ner": "Extract all the {entities} mentioned in the following text.",
        "re": (
            "Extract the relations between entities expressed in the following text, as triples of "
            "head entity, relation and tail entity. Relation types: {relations}."
        ),
        "qa": "Answer the following multiple-choice question by choosing the correct option.",
        "crf": (
            "Fill in the following items of a case report form with the information reported in the "
            "text: {items}."
        ),
        "argmining": (
            "Identify the argument components in the following text: the claims (conclusions that are "
            "argued for, such as a diagnosis or the choice of a treatment) and the premises (the "
            "observations, facts or reasons given to support or attack a claim)."
        ),
    },
    rules={
        "ner": (
            "Extract entities exactly as they appear in the text, without correcting or normalising them.",
            "List the entities in the order in which they appear; if an entity is mentioned more than "
            "once, list every mention.",
            "If there are none, return an empty list.",
        ),
        "re": (
            "Copy the head and tail entities exactly as they appear in the text.",
            "Use only the relation types listed above, spelled exactly as given.",
            "If there are none, return an empty list.",
        ),
        "qa": (
            "Choose exactly one option.",
            "Give the letter of the chosen option as the answer.",
        ),
        "crf": (
            "Give a value for every item listed above, as stated in the text.",
            "Use null for items that are not reported in the text.",
        ),
        "argmining": (
            "Extract claims and premises exactly as they appear in the text.",
            "List them in the order in which they appear in the text.",
            "If there are no claims or no premises, return an empty list for them.",
        ),
    },
    rot_questions={
        "ner": "What are the {entities} in the text?",
        "re": "What are the relations of the types {relation_names} in the text?",
        "crf": "What are the values of the items {items} in the text?",
        "argmining": "What are the claims and the premises in the text?",
    },
    rot_answers={
        "ner": (
            "A JSON object {layout} listing every mention of {entities} exactly as written in the text, "
            "in order of appearance, or an empty list if there are none."
        ),
        "re": (
            "A JSON object {layout} listing every relation of the types {relation_names}, with head and "
            "tail copied exactly from the text, or an empty list if there are none."
        ),
        "crf": (
            "A JSON object {layout} giving the value of every item as stated in the text, or null for "
            "items that are not reported."
        ),
        "argmining": (
            "A JSON object {layout} listing the claims and the premises exactly as written in the text, "
            "in order of appearance, or empty lists if there are none."
        ),
    },
    qa_answer_only=(
        "Answer the following multiple-choice question with the letter of the correct option, on a "
        'line of the form "{answer} X".'
    ),
    qa_explain=(
        "Answer the following multiple-choice question. First explain your reasoning, then give the "
        'letter of the correct option on a final line of the form "{answer} X".'
    ),
    typed_rule="Give every entity as an object with its text and its type, one of {types}.",
    layout_entities=("first entity", "second entity"),
    layout_head="head entity",
    layout_tail="tail entity",
    layout_value="value",
    layout_claim="claim",
    layout_premise="premise",
)

IT = Strings(
    rules_header="Regole:",
    output_format=(
        "Formato di output: fornisci la risposta come oggetto JSON. SOLO l'oggetto JSON, senza altro testo."
    ),
    layout_intro="Esempio:",
    text_label="Testo",
    question_label="Domanda",
    context_label="Contesto",
    explanation_label="Spiegazione",
    and_word="e",
    unnamed_entities='entità di tipo "{label}"',
    task_descriptions={
        "ner": "Estrai dal testo seguente ogni menzione di {entities}.",
        "re": (
            "Estrai dal testo seguente le relazioni tra entità, come triple di entità di testa, relazione "
            "ed entità di coda. Tipi di relazione: {relations}."
        ),
        "qa": "Rispondi alla seguente domanda a scelta multipla scegliendo l'opzione corretta.",
        "crf": (
            "Compila i seguenti campi di una scheda raccolta dati (case report form) con le informazioni "
            "riportate nel testo: {items}."
        ),
        "argmining": (
            "Individua le componenti argomentative nel testo seguente: le affermazioni (claim, conclusioni "
            "sostenute dall'argomentazione, come una diagnosi o la scelta di un trattamento) e le premesse "
            "(premise, osservazioni, fatti o ragioni addotti a sostegno o contro un'affermazione)."
        ),
    },
    rules={
        "ner": (
            "Estrai le entità esattamente come compaiono nel testo, senza correggerle né normalizzarle.",
            "Elencale nell'ordine in cui compaiono; se un'entità è menzionata più volte, elenca ogni "
            "menzione.",
            "Se non ce ne sono, restituisci una lista vuota.",
        ),
        "re": (
            "Copia le entità di testa e di coda esattamente come compaiono nel testo.",
            "Usa solo i tipi di relazione elencati sopra, scritti esattamente come indicato.",
            "Se non ce ne sono, restituisci una lista vuota.",
        ),
        "qa": (
            "Scegli una sola opzione.",
            "Indica come risposta la lettera dell'opzione scelta.",
        ),
        "crf": (
            "Indica un valore per ogni campo elencato sopra, come riportato nel testo.",
            "Usa null per i campi non riportati nel testo.",
        ),
        "argmining": (
            "Estrai affermazioni e premesse esattamente come compaiono nel testo.",
            "Elencale nell'ordine in cui compaiono nel testo.",
            "Se non ci sono affermazioni o premesse, restituisci una lista vuota per esse.",
        ),
    },
    rot_questions={
        "ner": "Quali sono le menzioni di {entities} nel testo?",
        "re": "Quali sono le relazioni dei tipi {relation_names} nel testo?",
        "crf": "Quali sono i valori dei campi {items} nel testo?",
        "argmining": "Quali sono le affermazioni e le premesse nel testo?",
    },
    rot_answers={
        "ner": (
            "Un oggetto JSON {layout} che elenca ogni menzione di {entities} esattamente come scritta nel "
            "testo, in ordine di comparsa, o una lista vuota se non ce ne sono."
        ),
        "re": (
            "Un oggetto JSON {layout} che elenca ogni relazione dei tipi {relation_names}, con entità di "
            "testa e di coda copiate esattamente dal testo, o una lista vuota se non ce ne sono."
        ),
        "crf": (
            "Un oggetto JSON {layout} con il valore di ogni campo come riportato nel testo, o null per i "
            "campi non riportati."
        ),
        "argmining": (
            "Un oggetto JSON {layout} che elenca le affermazioni e le premesse esattamente come scritte nel "
            "testo, in ordine di comparsa, o liste vuote se non ce ne sono."
        ),
    },
    qa_answer_only=(
        "Rispondi alla seguente domanda a scelta multipla con la lettera dell'opzione corretta, su una "
        'riga della forma "{answer} X".'
    ),
    qa_explain=(
        "Rispondi alla seguente domanda a scelta multipla. Prima spiega il tuo ragionamento, poi indica la "
        "lettera dell'opzione corretta su un'ultima riga della forma \"{answer} X\"."
    ),
    typed_rule="Indica ogni entità come oggetto con il suo testo e il suo tipo, uno tra {types}.",
    layout_entities=("prima entità", "seconda entità"),
    layout_head="entità di testa",
    layout_tail="entità di coda",
    layout_value="valore",
    layout_claim="affermazione",
    layout_premise="premessa",
)

ES = Strings(
    rules_header="Reglas:",
    output_format=(
        "Formato de salida: proporciona tu respuesta como un objeto JSON. SOLO el objeto JSON, sin ningún "
        "otro texto."
    ),
    layout_intro="Ejemplo:",
    text_label="Texto",
    question_label="Pregunta",
    context_label="Contexto",
    explanation_label="Explicación",
    and_word="y",
    unnamed_entities='entidades de tipo "{label}"',
    task_descriptions={
        "ner": "Extrae del siguiente texto todas las menciones de {entities}.",
        "re": (
            "Extrae del siguiente texto las relaciones entre entidades, como tripletas de entidad cabeza, "
            "relación y entidad cola. Tipos de relación: {relations}."
        ),
        "qa": "Responde a la siguiente pregunta de opción múltiple eligiendo la opción correcta.",
        "crf": (
            "Rellena los siguientes campos de un cuaderno de recogida de datos (case report form) con la "
            "información indicada en el texto: {items}."
        ),
        "argmining": (
            "Identifica los componentes argumentativos del siguiente texto: las afirmaciones (claims, "
            "conclusiones que se defienden, como un diagnóstico o la elección de un tratamiento) y las "
            "premisas (premises, observaciones, hechos o razones que apoyan o atacan una afirmación)."
        ),
    },
    rules={
        "ner": (
            "Extrae las entidades exactamente como aparecen en el texto, sin corregirlas ni normalizarlas.",
            "Enuméralas en el orden en que aparecen; si una entidad se menciona varias veces, incluye cada "
            "mención.",
            "Si no hay ninguna, devuelve una lista vacía.",
        ),
        "re": (
            "Copia las entidades cabeza y cola exactamente como aparecen en el texto.",
            "Usa solo los tipos de relación indicados arriba, escritos exactamente igual.",
            "Si no hay ninguna, devuelve una lista vacía.",
        ),
        "qa": (
            "Elige una sola opción.",
            "Indica como respuesta la letra de la opción elegida.",
        ),
        "crf": (
            "Indica un valor para cada campo de la lista anterior, tal como aparece en el texto.",
            "Usa null para los campos que no se mencionan en el texto.",
        ),
        "argmining": (
            "Extrae las afirmaciones y las premisas exactamente como aparecen en el texto.",
            "Enuméralas en el orden en que aparecen en el texto.",
            "Si no hay afirmaciones o premisas, devuelve una lista vacía para ellas.",
        ),
    },
    rot_questions={
        "ner": "¿Cuáles son las menciones de {entities} en el texto?",
        "re": "¿Cuáles son las relaciones de los tipos {relation_names} en el texto?",
        "crf": "¿Cuáles son los valores de los campos {items} en el texto?",
        "argmining": "¿Cuáles son las afirmaciones y las premisas en el texto?",
    },
    rot_answers={
        "ner": (
            "Un objeto JSON {layout} que enumera cada mención de {entities} exactamente como está escrita "
            "en el texto, en orden de aparición, o una lista vacía si no hay ninguna."
        ),
        "re": (
            "Un objeto JSON {layout} que enumera cada relación de los tipos {relation_names}, con las "
            "entidades cabeza y cola copiadas exactamente del texto, o una lista vacía si no hay ninguna."
        ),
        "crf": (
            "Un objeto JSON {layout} con el valor de cada campo tal como aparece en el texto, o null para "
            "los campos que no se mencionan."
        ),
        "argmining": (
            "Un objeto JSON {layout} que enumera las afirmaciones y las premisas exactamente como están "
            "escritas en el texto, en orden de aparición, o listas vacías si no hay ninguna."
        ),
    },
    qa_answer_only=(
        "Responde a la siguiente pregunta de opción múltiple con la letra de la opción correcta, en una "
        'línea de la forma "{answer} X".'
    ),
    qa_explain=(
        "Responde a la siguiente pregunta de opción múltiple. Primero explica tu razonamiento y después "
        'indica la letra de la opción correcta en una última línea de la forma "{answer} X".'
    ),
    typed_rule="Indica cada entidad como un objeto con su texto y su tipo, uno de {types}.",
    layout_entities=("primera entidad", "segunda entidad"),
    layout_head="entidad cabeza",
    layout_tail="entidad cola",
    layout_value="valor",
    layout_claim="afirmación",
    layout_premise="premisa",
)

STRINGS: dict[str, Strings] = {"en": EN, "it": IT, "es": ES}
FALLBACK_LANGUAGE = "en"

# Entity types, keyed by a normalised name (see `normalise_key`); ENTITY_ALIASES maps the labels
# and sub-task names of the thesis datasets onto these keys.
ENTITY_DESCRIPTIONS: dict[str, dict[str, str]] = {
    "clinical_entity": {
        "en": "clinical entities (diseases, disorders, signs and symptoms)",
        "it": "entità cliniche (malattie, disturbi, segni e sintomi)",
        "es": "entidades clínicas (enfermedades, trastornos, signos y síntomas)",
    },
    "body_part": {"en": "body parts", "it": "parti del corpo", "es": "partes del cuerpo"},
    "test_result": {
        "en": "results of medical tests and measurements",
        "it": "risultati di esami e misurazioni mediche",
        "es": "resultados de pruebas y mediciones médicas",
    },
    "age": {"en": "ages of the patient", "it": "età del paziente", "es": "edades del paciente"},
    "tumour_morphology": {
        "en": "tumour morphologies",
        "it": "morfologie tumorali",
        "es": "morfologías tumorales",
    },
    "drug": {"en": "drugs", "it": "farmaci", "es": "fármacos"},
    "disease": {"en": "diseases", "it": "malattie", "es": "enfermedades"},
    "chemical": {"en": "chemicals", "it": "sostanze chimiche", "es": "sustancias químicas"},
    "normalizable_chemical": {
        "en": "chemical compounds and drugs that can be normalised to a standard terminology",
        "it": "composti chimici e farmaci normalizzabili in una terminologia standard",
        "es": "compuestos químicos y fármacos normalizables en una terminología estándar",
    },
    "non_normalizable_chemical": {
        "en": "chemical compounds and drugs that cannot be normalised to a standard terminology",
        "it": "composti chimici e farmaci non normalizzabili in una terminologia standard",
        "es": "compuestos químicos y fármacos no normalizables en una terminología estándar",
    },
    "protein": {"en": "proteins and genes", "it": "proteine e geni", "es": "proteínas y genes"},
    "disability": {"en": "disabilities", "it": "disabilità", "es": "discapacidades"},
    "negation_cue": {"en": "negation cues", "it": "segnali di negazione", "es": "marcadores de negación"},
    "phi": {
        "en": "personal health information (names, dates, ages, places, contacts and identifiers)",
        "it": "informazioni sanitarie personali (nomi, date, età, luoghi, contatti e identificativi)",
        "es": (
            "información sanitaria personal (nombres, fechas, edades, lugares, contactos e identificadores)"
        ),
    },
}

ENTITY_ALIASES: dict[str, str] = {
    "clinentity": "clinical_entity",
    "clinical_entities": "clinical_entity",
    "ety": "clinical_entity",
    "bodypart": "body_part",
    "body_parts": "body_part",
    "rml": "test_result",
    "test_results": "test_result",
    "edad_sujeto_asistencia": "age",
    "morfologia_neoplasia": "tumour_morphology",
    "tumor_morphology": "tumour_morphology",
    "farmaco": "drug",
    "drugs": "drug",
    "enfermedad": "disease",
    "diseases": "disease",
    "chemicals": "chemical",
    "normalizables": "normalizable_chemical",
    "no_normalizables": "non_normalizable_chemical",
    "notnormalizables": "non_normalizable_chemical",
    "proteinas": "protein",
    "proteins": "protein",
    "dis": "disability",
    "disabilities": "disability",
    "neg": "negation_cue",
    "negation": "negation_cue",
    "deidentification": "phi",
    "deid": "phi",
}

# Relation types: what a (head, relation, tail) triple means, in the direction the readers emit.
RELATION_DESCRIPTIONS: dict[str, dict[str, str]] = {
    "pertainsto": {
        "en": "a result (head) of the medical test or measurement (tail) it pertains to",
        "it": "un risultato (testa) dell'esame o della misurazione medica (coda) a cui si riferisce",
        "es": "un resultado (cabeza) de la prueba o medición médica (cola) a la que se refiere",
    },
    "has_result": {
        "en": "a medical test or measurement (head) and its result (tail)",
        "it": "un esame o una misurazione medica (testa) e il suo risultato (coda)",
        "es": "una prueba o medición médica (cabeza) y su resultado (cola)",
    },
    "cid": {
        "en": "a chemical (head) that induces a disease (tail)",
        "it": "una sostanza chimica (testa) che induce una malattia (coda)",
        "es": "una sustancia química (cabeza) que induce una enfermedad (cola)",
    },
}

RELATION_ALIASES: dict[str, str] = {
    "pertains_to": "pertainsto",
    "chemical_induced_disease": "cid",
}

_SEPARATORS = re.compile(r"[\s\-]+")


def normalise_key(name: str) -> str:
    """A label or sub-task name as a table key: lower case, spaces and hyphens as underscores."""
    return _SEPARATORS.sub("_", name.strip().lower())


def normalise_language(code: str) -> str:
    """ "IT", "es-ES", "en_GB" → "it", "es", "en"."""
    return re.split(r"[-_]", code.strip().lower(), maxsplit=1)[0]


def describe(name: str, table: dict[str, dict[str, str]], aliases: dict[str, str], lang: str) -> str | None:
    """The `lang` description of a label or sub-task name, or None when the table lacks it."""
    key = normalise_key(name)
    row = table.get(aliases.get(key, key))
    return None if row is None else row[lang]
