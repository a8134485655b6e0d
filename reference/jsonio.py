"""JSON writer shared by the tokenizer scripts (no torch/transformers import, so it runs in either venv)."""
import json
from pathlib import Path


def write_json_one_case_per_line(path: Path, doc: dict) -> None:
    """Indented JSON, except that each element of doc["cases"] sits on one line (small, diff-friendly)."""
    head = {k: v for k, v in doc.items() if k != "cases"}
    text = json.dumps(head, ensure_ascii=False, indent=1)[:-2]
    text += ',\n "cases": [\n' + ",\n".join("  " + json.dumps(c, ensure_ascii=False) for c in doc["cases"]) + "\n ]\n}\n"
    json.loads(text)
    path.write_text(text, encoding="utf-8")
