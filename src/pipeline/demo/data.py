"""Stage: generate the embedded demo data, small and deterministic, in native formats.

    python -m pipeline.demo.data --settings JSON --output results/demo

Settings: `{"seed": int, "documents_per_language": int, "questions_per_language": int,
"languages": [en, it, es, fr]}`. Writes (atomically) a folder with a raw corpus in the E3C layer-3
JSON layout, NER and RE sets in BRAT standoff, a medical and a general-domain (arithmetic) MCQ set
in MedQA JSONL, an argument-mining set in CasiMedicos-Arg IOB2 TSV, and reasoning traces in the
HuatuoGPT CSV layout (see config/datasets/demo.yaml).
Sentences are templated from fixed, index-aligned word lists so a tiny model can learn them.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import random
import re
from pathlib import Path
from typing import Any

from pipeline.io import atomic_dir

SETTINGS = {
    "seed": 0,
    "documents_per_language": 40,
    "questions_per_language": 40,
    "languages": ["en", "it", "es"],
}
LANGUAGES = ("en", "it", "es", "fr")  # the languages the word lists cover

DISEASES = {
    "en": ["pneumonia", "hypertension", "diabetes", "asthma", "migraine", "gastritis", "anaemia", "gout"],
    "it": ["polmonite", "ipertensione", "diabete", "asma", "emicrania", "gastrite", "anemia", "gotta"],
    "es": ["neumonía", "hipertensión", "diabetes", "asma", "migraña", "gastritis", "anemia", "gota"],
    "fr": ["pneumonie", "hypertension", "diabète", "asthme", "migraine", "gastrite", "anémie", "goutte"],
}
DRUGS = {
    "en": ["amoxicillin", "ramipril", "metformin", "salbutamol", "sumatriptan", "omeprazole",
           "ferrous sulfate", "allopurinol"],
    "it": ["amoxicillina", "ramipril", "metformina", "salbutamolo", "sumatriptan", "omeprazolo",
           "solfato ferroso", "allopurinolo"],
    "es": ["amoxicilina", "ramipril", "metformina", "salbutamol", "sumatriptán", "omeprazol",
           "sulfato ferroso", "alopurinol"],
    "fr": ["amoxicilline", "ramipril", "metformine", "salbutamol", "sumatriptan", "oméprazole",
           "sulfate ferreux", "allopurinol"],
}  # fmt: skip
DOSES = ["5 mg", "10 mg", "20 mg", "40 mg", "100 mg", "250 mg", "500 mg", "1 g"]
SYMPTOMS = {
    "en": ["fever", "cough", "headache", "nausea", "fatigue", "chest pain", "dizziness", "abdominal pain"],
    "it": [
        "febbre",
        "tosse",
        "cefalea",
        "nausea",
        "astenia",
        "dolore toracico",
        "vertigini",
        "dolore addominale",
    ],
    "es": ["fiebre", "tos", "cefalea", "náuseas", "astenia", "dolor torácico", "mareo", "dolor abdominal"],
    "fr": ["fièvre", "toux", "céphalée", "nausées", "asthénie", "douleur thoracique", "vertiges",
           "douleur abdominale"],
}  # fmt: skip
BODY_PARTS = {
    "en": ["chest", "abdomen", "left knee", "right arm", "neck", "lower back"],
    "it": ["torace", "addome", "ginocchio sinistro", "braccio destro", "collo", "zona lombare"],
    "es": ["tórax", "abdomen", "rodilla izquierda", "brazo derecho", "cuello", "zona lumbar"],
    "fr": ["thorax", "abdomen", "genou gauche", "bras droit", "cou", "région lombaire"],
}
EXAMS = {
    "en": ["haemoglobin", "blood glucose", "creatinine", "heart rate", "body temperature", "blood pressure"],
    "it": ["emoglobina", "glicemia", "creatinina", "frequenza cardiaca", "temperatura corporea",
           "pressione arteriosa"],
    "es": ["hemoglobina", "glucemia", "creatinina", "frecuencia cardiaca", "temperatura corporal",
           "presión arterial"],
    "fr": ["hémoglobine", "glycémie", "créatinine", "fréquence cardiaque", "température corporelle",
           "pression artérielle"],
}  # fmt: skip
RESULTS = [  # one list of plausible results per exam, shared by all languages
    ["9 g/dL", "11 g/dL", "13 g/dL", "15 g/dL"],
    ["90 mg/dL", "140 mg/dL", "210 mg/dL"],
    ["0.8 mg/dL", "1.4 mg/dL", "2.1 mg/dL"],
    ["58 bpm", "88 bpm", "112 bpm"],
    ["36.8 °C", "38.2 °C", "39.5 °C"],
    ["120/80 mmHg", "150/95 mmHg", "170/100 mmHg"],
]
AGES = [23, 31, 45, 52, 67, 74, 81]
SEX = {"en": ["man", "woman"], "it": ["uomo", "donna"], "es": ["hombre", "mujer"], "fr": ["homme", "femme"]}

NER_TEMPLATES = {
    "en": ["The patient was diagnosed with {disease} and started {drug} {dose} daily.",
           "{Drug} was prescribed for {disease}.",
           "History of {disease}; currently on {drug}.",
           "A {age}-year-old {sex} reported {symptom}.",
           "No signs of {disease} were found on admission."],
    "it": ["Al paziente è stata diagnosticata {disease} ed è stato avviato {drug} {dose} al giorno.",
           "È stato prescritto {drug} per {disease}.",
           "Anamnesi di {disease}; attualmente in terapia con {drug}.",
           "Un {sex} di {age} anni ha riferito {symptom}.",
           "Nessun segno di {disease} al ricovero."],
    "es": ["Se diagnosticó {disease} al paciente y se inició {drug} {dose} al día.",
           "Se prescribió {drug} para {disease}.",
           "Antecedentes de {disease}; actualmente en tratamiento con {drug}.",
           "Un {sex} de {age} años refirió {symptom}.",
           "No se encontraron signos de {disease} al ingreso."],
    "fr": ["Le patient a reçu un diagnostic de {disease} et a commencé {drug} {dose} par jour.",
           "{Drug} a été prescrit pour {disease}.",
           "Antécédents de {disease} ; actuellement sous {drug}.",
           "Un {sex} de {age} ans a rapporté {symptom}.",
           "Aucun signe de {disease} n'a été trouvé à l'admission."],
}  # fmt: skip
RE_TEMPLATES = {
    "en": ["The {exam} was {result}.", "{Exam}: {result}.", "On admission, {exam} measured {result}.",
           "Examination of the {body_part} was unremarkable."],
    "it": ["Il valore di {exam} era {result}.", "{Exam}: {result}.", "All'ingresso, {exam} {result}.",
           "L'esame del {body_part} era nella norma."],
    "es": ["El valor de {exam} fue {result}.", "{Exam}: {result}.", "Al ingreso, {exam} de {result}.",
           "La exploración del {body_part} fue normal."],
    "fr": ["La valeur de {exam} était de {result}.", "{Exam} : {result}.",
           "À l'admission, {exam} à {result}.", "L'examen du {body_part} était normal."],
}  # fmt: skip
MCQ_TEMPLATES = {
    "en": ["Which drug is the first-line treatment for {disease}?",
           "A {age}-year-old {sex} is diagnosed with {disease}. Which drug should be started?"],
    "it": ["Quale farmaco è il trattamento di prima linea per {disease}?",
           "Un {sex} di {age} anni riceve una diagnosi di {disease}. Quale farmaco va iniziato?"],
    "es": ["¿Qué fármaco es el tratamiento de primera línea para {disease}?",
           "Un {sex} de {age} años es diagnosticado de {disease}. ¿Qué fármaco se debe iniciar?"],
    "fr": ["Quel médicament est le traitement de première intention de {disease} ?",
           "Un {sex} de {age} ans reçoit un diagnostic de {disease}. Quel médicament faut-il débuter ?"],
}  # fmt: skip
EXPLANATIONS = {
    "en": "{Drug} is the treatment of choice for {disease}; the other drugs treat different conditions.",
    "it": "{Drug} è il trattamento di scelta per {disease}; gli altri farmaci trattano altre condizioni.",
    "es": "{Drug} es el tratamiento de elección para {disease}; los demás fármacos tratan otras afecciones.",
    "fr": "{Drug} est le traitement de choix de {disease} ; "
    "les autres médicaments traitent d'autres affections.",
}
REASONING = {
    "en": "The question asks for the treatment of {disease}. {Drug} is the first-line drug for {disease}, "
    "so among the options the answer is {drug}.",
    "it": "La domanda chiede il trattamento di {disease}. {Drug} è il farmaco di prima linea per {disease}, "
    "quindi tra le opzioni la risposta è {drug}.",
    "es": "La pregunta pide el tratamiento de {disease}. {Drug} es el fármaco de primera línea para "
    "{disease}, así que entre las opciones la respuesta es {drug}.",
    "fr": "La question porte sur le traitement de {disease}. {Drug} est le médicament de première intention "
    "de {disease}, donc parmi les options la réponse est {drug}.",
}
ARG_CASE = {  # premises (case facts) and the claim (the diagnosis/treatment) of an argumentation case
    "en": {"premise": "A {age}-year-old {sex} presents with {symptom} and a history of {disease}.",
           "claim": "The most appropriate treatment is {drug}.",
           "question": "Which treatment is most appropriate?", "answer": "CORRECT ANSWER: {n}",
           "type": "QUESTION TYPE: {kind}", "case": "CLINICAL CASE:", "kind": "PHARMACOLOGY"},
    "it": {"premise": "Un {sex} di {age} anni si presenta con {symptom} e anamnesi di {disease}.",
           "claim": "Il trattamento più appropriato è {drug}.",
           "question": "Quale trattamento è più appropriato?", "answer": "RISPOSTA CORRETTA: {n}",
           "type": "QUESTION TYPE: {kind}", "case": "CLINICAL CASE:", "kind": "FARMACOLOGIA"},
    "es": {"premise": "Un {sex} de {age} años acude con {symptom} y antecedentes de {disease}.",
           "claim": "El tratamiento más adecuado es {drug}.",
           "question": "¿Cuál es el tratamiento más adecuado?", "answer": "CORRECT ANSWER: {n}",
           "type": "QUESTION TYPE: {kind}", "case": "CLINICAL CASE:", "kind": "FARMACOLOGÍA"},
    "fr": {"premise": "Un {sex} de {age} ans se présente avec {symptom} et des antécédents de {disease}.",
           "claim": "Le traitement le plus approprié est {drug}.",
           "question": "Quel traitement est le plus approprié ?", "answer": "CORRECT ANSWER: {n}",
           "type": "QUESTION TYPE: {kind}", "case": "CLINICAL CASE:", "kind": "PHARMACOLOGIE"},
}  # fmt: skip
CORPUS_EXTRA = {
    "en": ["The patient was followed up in the outpatient clinic.", "Informed consent was obtained.",
           "Further information is available at {url} for clinicians.",
           "Symptoms improved within {days} days."],
    "it": ["Il paziente è stato seguito in ambulatorio.", "È stato ottenuto il consenso informato.",
           "Ulteriori informazioni sono disponibili su {url} per i clinici.",
           "I sintomi sono migliorati in {days} giorni."],
    "es": ["El paciente fue seguido en consultas externas.", "Se obtuvo el consentimiento informado.",
           "Más información disponible en {url} para los clínicos.",
           "Los síntomas mejoraron en {days} días."],
    "fr": ["Le patient a été suivi en consultation externe.", "Le consentement éclairé a été obtenu.",
           "Plus d'informations sont disponibles sur {url} pour les cliniciens.",
           "Les symptômes se sont améliorés en {days} jours."],
}  # fmt: skip
SOURCES = {
    "en": "Demo Medical Journal",
    "it": "Rivista Medica Demo",
    "es": "Revista Médica Demo",
    "fr": "Revue Médicale Démo",
}
GENERAL_QUESTIONS = {  # general-domain items (arithmetic), for the forgetting checks
    "en": "What is {a} plus {b}?",
    "it": "Quanto fa {a} più {b}?",
    "es": "¿Cuánto es {a} más {b}?",
    "fr": "Combien font {a} plus {b} ?",
}
LICENCES = ["CC BY 4.0", "CC-BY-NC"]
URLS = ["https://example.org/guidelines", "http://www.example.com/case?id=42", "www.example.net/notes"]


class Filler:
    """Draws template slots for one language from the word lists."""

    def __init__(self, rng: random.Random, lang: str) -> None:
        self.rng, self.lang = rng, lang

    def slots(self) -> dict[str, str]:
        i = self.rng.randrange(len(DISEASES["en"]))
        e = self.rng.randrange(len(EXAMS["en"]))
        lang, pick = self.lang, self.rng.choice
        values = {
            "disease": DISEASES[lang][i],
            "drug": DRUGS[lang][i],
            "dose": pick(DOSES),
            "symptom": pick(SYMPTOMS[lang]),
            "body_part": pick(BODY_PARTS[lang]),
            "exam": EXAMS[lang][e],
            "result": pick(RESULTS[e]),
            "age": str(pick(AGES)),
            "sex": pick(SEX[lang]),
            "url": pick(URLS),
            "days": str(self.rng.randint(2, 14)),
        }
        return {**values, "Drug": _cap(values["drug"]), "Exam": _cap(values["exam"])}


def _cap(word: str) -> str:
    return word[:1].upper() + word[1:]


def fill(
    template: str, slots: dict[str, str], labels: dict[str, str]
) -> tuple[str, list[tuple[int, int, str]]]:
    """Fill `template`; return the text and (start, end, label) of the slots named in `labels`."""
    text, spans, pos = "", [], 0
    for m in re.finditer(r"\{(\w+)\}", template):
        text += template[pos : m.start()]
        value = slots[m.group(1)]
        if m.group(1) in labels:
            spans.append((len(text), len(text) + len(value), labels[m.group(1)]))
        text += value
        pos = m.end()
    return text + template[pos:], spans


def _split_of(index: int, n: int) -> str:
    """A quarter of the items (at least one) are test items, the rest train."""
    return "test" if index >= n - max(1, n // 4) else "train"


def brat_doc(
    sentences: list[tuple[str, list[tuple[int, int, str]]]], relation: str | None
) -> tuple[str, str]:
    """A BRAT `.txt`/`.ann` pair; with `relation`, each sentence's first two spans are related."""
    text, ann, t = "", [], 0
    for sentence, spans in sentences:
        offset, ids = len(text), []
        for start, end, label in spans:
            t += 1
            ann.append(f"T{t}\t{label} {offset + start} {offset + end}\t{sentence[start:end]}")
            ids.append(f"T{t}")
        if relation and len(ids) == 2:
            ann.append(f"R{sum(a.startswith('R') for a in ann) + 1}\t{relation} Arg1:{ids[0]} Arg2:{ids[1]}")
        text += sentence + " "
    return text.rstrip() + "\n", "\n".join(ann) + ("\n" if ann else "")


def write_brat(root: Path, kind: str, rng: random.Random, n: int, languages: list[str]) -> None:
    """NER (DISEASE, DRUG) or RE (EXAM -HAS_RESULT-> RESULT) documents of 2–3 sentences."""
    for lang in languages:
        filler = Filler(rng, lang)
        for i in range(n):
            sentences = []
            for _ in range(rng.randint(2, 3)):
                slots = filler.slots()
                if kind == "ner":
                    template = rng.choice(NER_TEMPLATES[lang])
                    labels = {"disease": "DISEASE", "drug": "DRUG", "Drug": "DRUG"}
                else:
                    template = rng.choice(RE_TEMPLATES[lang])
                    labels = {"exam": "EXAM", "Exam": "EXAM", "result": "RESULT"}
                sentences.append(fill(template, slots, labels))
            txt, ann = brat_doc(sentences, "HAS_RESULT" if kind == "re" else None)
            folder = root / lang / _split_of(i, n)
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{kind}-{lang}-{i:04d}.txt").write_text(txt, encoding="utf-8")
            (folder / f"{kind}-{lang}-{i:04d}.ann").write_text(ann, encoding="utf-8")


def corpus_text(rng: random.Random, lang: str) -> str:
    """A few hundred words of clinical prose, with noise for the cleaning stage."""
    filler, parts = Filler(rng, lang), []
    for _ in range(rng.randint(18, 26)):
        template = rng.choice(NER_TEMPLATES[lang] + RE_TEMPLATES[lang] + CORPUS_EXTRA[lang])
        parts.append(fill(template, filler.slots(), {})[0])
    if rng.random() < 0.3:
        parts.insert(rng.randrange(len(parts)), "\x0c\x07")
    return rng.choice(["  ", " ", " ", "\n", " \t "]).join(parts)


def write_corpus(root: Path, rng: random.Random, n: int, languages: list[str]) -> None:
    """E3C layer-3 JSON documents; the last one or two of each language duplicate earlier ones."""
    for lang in languages:
        texts = [corpus_text(rng, lang) for _ in range(n)]
        for k in range(1, min(2, n - 1) + 1):
            texts[-k] = texts[k - 1]
        for i, text in enumerate(texts):
            doc_id = f"{lang.upper()}9{i:05d}"
            doc = {
                "authors": [f"Demo Author {rng.randint(1, 9)}"],
                "doi": f"10.0000/demo.{doc_id.lower()}",
                "publication_date": f"20{rng.randint(10, 23)}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}",
                "id": doc_id,
                "url": f"https://example.org/{doc_id}",
                "source": SOURCES[lang],
                "source_url": "https://example.org",
                "licence": rng.choice(LICENCES),
                "language": lang,
                "type": "clinical case",
                "description": "Generated demo document.",
                "text": text,
            }
            path = root / lang / f"{doc_id}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(doc, ensure_ascii=False, indent=4) + "\n", encoding="utf-8")


def mcq_item(rng: random.Random, lang: str) -> dict[str, Any]:
    """A 5-option treatment question with its explanation and a reasoning trace."""
    slots = Filler(rng, lang).slots()
    right = DRUGS[lang].index(slots["drug"])
    wrong = rng.sample([j for j in range(len(DRUGS[lang])) if j != right], 4)
    order = [right, *wrong]
    rng.shuffle(order)
    letters = "ABCDE"
    options = {letters[k]: DRUGS[lang][j] for k, j in enumerate(order)}
    return {
        "question": fill(rng.choice(MCQ_TEMPLATES[lang]), slots, {})[0],
        "answer": slots["drug"],
        "options": options,
        "meta_info": "demo",
        "answer_idx": letters[order.index(right)],
        "explanation": fill(EXPLANATIONS[lang], slots, {})[0],
        "reasoning": fill(REASONING[lang], slots, {})[0],
    }


def general_item(rng: random.Random, lang: str) -> dict[str, Any]:
    """A 4-option general-domain (arithmetic) question, for the forgetting checks."""
    a, b = rng.randint(2, 49), rng.randint(2, 49)
    wrong = rng.sample([d for d in range(-9, 10) if d != 0], 3)
    order = [a + b, *(a + b + d for d in wrong)]
    rng.shuffle(order)
    letters = "ABCD"
    return {
        "question": GENERAL_QUESTIONS[lang].format(a=a, b=b),
        "answer": str(a + b),
        "options": {letters[k]: str(v) for k, v in enumerate(order)},
        "meta_info": "general",
        "answer_idx": letters[order.index(a + b)],
    }


def write_mcq(
    root: Path, rng: random.Random, n: int, languages: list[str], general: bool = False
) -> list[tuple[str, dict[str, Any]]]:
    """MedQA-layout JSONL per language and split; returns the items for the reasoning traces."""
    items = []
    for lang in languages:
        by_split: dict[str, list[str]] = {"train": [], "test": []}
        for i in range(n):
            item = general_item(rng, lang) if general else mcq_item(rng, lang)
            items.append((lang, item))
            record = {k: v for k, v in item.items() if k != "reasoning"}
            by_split[_split_of(i, n)].append(json.dumps(record, ensure_ascii=False))
        for split, lines in by_split.items():
            path = root / lang / f"{split}.jsonl"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return items


def tokens(sentence: str) -> list[str]:
    return re.findall(r"\w[\w/.°-]*\w|\w|[^\w\s]", sentence)


def arg_case(rng: random.Random, lang: str) -> list[list[tuple[str, str]]]:
    """One CasiMedicos-Arg case as sentences of (token, IOB2 label)."""
    words, slots = ARG_CASE[lang], Filler(rng, lang).slots()
    options = rng.sample([d for d in DRUGS[lang] if d != slots["drug"]], 4)
    n = rng.randint(1, 5)
    options.insert(n - 1, slots["drug"])

    def plain(text: str) -> list[tuple[str, str]]:  # headers keep `TYPE:`/`CASE:`/`ANSWER:` tokens
        return [(tok, "O") for tok in text.split()]

    def component(text: str, label: str) -> list[tuple[str, str]]:
        toks = tokens(text)
        return [(tok, ("B-" if k == 0 else "I-") + label) for k, tok in enumerate(toks)]

    return [
        plain(words["type"].format(kind=words["kind"])),
        plain(words["case"]),
        component(fill(words["premise"], slots, {})[0], "Premise"),
        plain(words["question"]),
        plain(" ".join(f"{k}- {drug}" for k, drug in enumerate(options, start=1))),
        plain(words["answer"].format(n=n)),
        component(fill(words["claim"], slots, {})[0], "Claim"),
    ]


def write_argmining(root: Path, rng: random.Random, n: int, languages: list[str]) -> None:
    """IOB2 TSV per language and split, with the real quirks: IT is tab-separated, ES has a quality column."""
    for lang in languages:
        sep, quality = ("\t", True) if lang == "it" else (" ", lang == "es")
        by_split: dict[str, list[str]] = {"train": [], "test": []}
        for i in range(n):
            lines = []
            for sentence in arg_case(rng, lang):
                for tok, label in sentence:
                    cols = [tok, label] + ([("HighQuality" if label != "O" else "")] if quality else [])
                    lines.append(sep.join(cols))
                lines.append("")
            by_split[_split_of(i, n)].extend(lines)
        for split, lines in by_split.items():
            path = root / lang.upper() / f"{split}.tsv"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_reasoning(
    path: Path, items: list[tuple[str, dict[str, Any]]], per_language: int, languages: list[str]
) -> None:
    """HuatuoGPT-layout CSV (UTF-8 BOM, multi-line fields) plus an optional `language` column."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["original_question_en", "translated_question_th", "complex_cot", "response", "language"])
    for lang in languages:
        for _, item in [x for x in items if x[0] == lang][:per_language]:
            question = item["question"] + "\n" + "\n".join(f"{k}. {v}" for k, v in item["options"].items())
            response = f"{item['explanation']}\n{item['answer_idx']}. {item['answer']}"
            writer.writerow([question, "", item["reasoning"], response, lang])
    path.write_text(buf.getvalue(), encoding="utf-8-sig")


def generate(output: Path, settings: dict[str, Any]) -> None:
    """Write the whole demo folder atomically."""
    unknown = set(settings) - set(SETTINGS)
    if unknown:
        raise ValueError(f"demo settings: unknown key(s) {sorted(unknown)} (known: {sorted(SETTINGS)})")
    s = {**SETTINGS, **settings}
    docs, questions = s["documents_per_language"], s["questions_per_language"]
    if docs < 2 or questions < 2:
        raise ValueError("demo settings: documents_per_language and questions_per_language must be >= 2")
    languages = s["languages"]
    unsupported = (
        [lang for lang in languages if lang not in LANGUAGES] if isinstance(languages, list) else None
    )
    if not languages or unsupported is None or unsupported:
        raise ValueError(
            f"demo settings: languages must be a non-empty list from {list(LANGUAGES)}, got {languages!r}"
        )
    seed = s["seed"]
    with atomic_dir(output) as tmp:
        write_corpus(tmp / "corpus", random.Random(f"{seed}:corpus"), docs, languages)
        write_brat(tmp / "ner_brat", "ner", random.Random(f"{seed}:ner"), docs, languages)
        write_brat(tmp / "re_brat", "re", random.Random(f"{seed}:re"), docs, languages)
        items = write_mcq(tmp / "mcq", random.Random(f"{seed}:mcq"), questions, languages)
        write_mcq(tmp / "general_mcq", random.Random(f"{seed}:general"), questions, languages, general=True)
        write_argmining(tmp / "argmining", random.Random(f"{seed}:arg"), questions, languages)
        write_reasoning(tmp / "reasoning.csv", items, max(2, questions // 4), languages)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--settings",
        default="{}",
        help="JSON: seed, documents_per_language, questions_per_language, languages",
    )
    parser.add_argument("--output", required=True, type=Path)
    args = parser.parse_args(argv)
    generate(args.output, json.loads(args.settings))


if __name__ == "__main__":
    main()
