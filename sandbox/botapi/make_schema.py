"""Build sandbox/botapi/botapi_schema.json, the Bot API schema the stand-in validates against,
from the Bot API description scraped off https://core.telegram.org/bots/api.

The input is the ``api.json`` of https://github.com/PaulSonOfLars/telegram-bot-api-spec
(MIT; regenerated from the HTML page for every Bot API release):

    curl -LO https://raw.githubusercontent.com/PaulSonOfLars/telegram-bot-api-spec/main/api.json
    python -m sandbox.botapi.make_schema api.json

The output keeps only what the stand-in checks: the version, every method with its fields and
return types, every type with its fields, subtypes and the field value that tells a subtype
apart, and per field its types, whether it is required (or required unless another field is
given) and the length limit its description states. The prose stays behind; the rules read
from it are taken here, once. Same input, same bytes out: the page's order is kept.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

SCHEMA_PATH = Path(__file__).with_name("botapi_schema.json")
SOURCE = "https://github.com/PaulSonOfLars/telegram-bot-api-spec api.json"

_LIMIT = re.compile(r"(\d+)-(\d+) (characters|bytes)")
_REQUIRED_UNLESS = re.compile(r"[Rr]equired if (\w+) (?:is not|isn't) specified")
_DISCRIMINATOR = re.compile(r'(?:must be|always) "?([a-z_]+)"?')
_DISCRIMINATOR_FIELDS = ("type", "status", "source")
Json = dict[str, Any]


def compact_field(raw: Mapping[str, Any]) -> Json:
    description: str = raw["description"]
    out: Json = {"types": list(raw["types"]), "required": raw["required"]}
    if raw["types"] == ["String"] and (match := _LIMIT.search(description)):
        out["limit"] = {
            "min": int(match[1]),
            "max": int(match[2]),
            "unit": match[3],
            # "1-4096 characters after entities parsing": counted on the visible text.
            "after_entities": "entit" in description and "parsing" in description,
        }
    if unless := _REQUIRED_UNLESS.search(description):
        out["required_unless"] = unless[1]
    return out


def _discriminator(raw: Mapping[str, Any]) -> list[str] | None:
    for item in raw.get("fields", []):
        if item["name"] in _DISCRIMINATOR_FIELDS and (
            match := _DISCRIMINATOR.search(item["description"])
        ):
            return [item["name"], match[1]]
    return None


def compact(description: Mapping[str, Any], source_sha256: str) -> Json:
    """The schema as a dict, from a parsed telegram-bot-api-spec api.json."""
    methods = {
        name: {
            "returns": list(raw["returns"]),
            "fields": {f["name"]: compact_field(f) for f in raw.get("fields", [])},
        }
        for name, raw in description["methods"].items()
    }
    types: Json = {}
    for name, raw in description["types"].items():
        typedef: Json = {"fields": {f["name"]: compact_field(f) for f in raw.get("fields", [])}}
        if raw.get("subtypes"):
            typedef["subtypes"] = list(raw["subtypes"])
        if discriminator := _discriminator(raw):
            typedef["discriminator"] = discriminator
        types[name] = typedef
    return {
        "version": description["version"],
        "release_date": description["release_date"],
        "source": f"{SOURCE}, sha256 {source_sha256}",
        "methods": methods,
        "types": types,
    }


def dump(schema: Json) -> str:
    """JSON with one line per method, type and field, so a new Bot API version diffs by field."""

    def line(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False)

    def entry(name: str, item: Json) -> str:
        parts = [f"{line(key)}: {line(value)}" for key, value in item.items() if key != "fields"]
        fields = [f"   {line(key)}: {line(value)}" for key, value in item["fields"].items()]
        parts.append('"fields": {\n' + ",\n".join(fields) + "\n  }" if fields else '"fields": {}')
        return f"  {line(name)}: {{" + ", ".join(parts) + "}"

    def section(key: str) -> str:
        entries = ",\n".join(entry(name, item) for name, item in schema[key].items())
        return f"{line(key)}: {{\n{entries}\n}}"

    header = [f"{line(key)}: {line(schema[key])}" for key in ("version", "release_date", "source")]
    return "{\n" + ",\n".join([*header, section("methods"), section("types")]) + "\n}\n"


def build(source: Path) -> str:
    data = source.read_bytes()
    return dump(compact(json.loads(data), hashlib.sha256(data).hexdigest()))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox.botapi.make_schema", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("api_json", type=Path, help="telegram-bot-api-spec's api.json")
    parser.add_argument("-o", "--output", type=Path, default=SCHEMA_PATH)
    args = parser.parse_args(argv)
    text = build(args.api_json)
    args.output.write_text(text, encoding="utf-8")
    schema = json.loads(text)
    print(f"{args.output}: {schema['version']}, "
          f"{len(schema['methods'])} methods, {len(schema['types'])} types")


if __name__ == "__main__":
    main()
