#!/usr/bin/env python3
"""Validates OpenLineage RunEvents (one JSON object per line on stdin)
against the 2-0-2 spec and the schema of every facet they carry, resolved by
$id from tests/corpora/openlineage (and fx's own facets from share/lineage).
Prints one line per invalid event and exits 1 if there is any."""
import glob
import json
import os
import sys
from urllib.parse import urldefrag

import jsonschema

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
files = glob.glob(os.path.join(root, "tests/corpora/openlineage/**/*.json"),
                  recursive=True)
files += glob.glob(os.path.join(root, "share/lineage/*.json"))
schemas = [json.load(open(f)) for f in files]
# facet name -> the schema that defines it ({"properties": {name: ...}})
facet_schema = {}
for s in schemas:
    for name in s.get("properties", {}):
        if "$defs" in s and s["$id"].find("OpenLineage.json") < 0:
            facet_schema[name] = s

Validator = jsonschema.Draft202012Validator
checker = Validator.FORMAT_CHECKER
ol = "https://openlineage.io/spec/2-0-2/OpenLineage.json"


try:
    # jsonschema 4.18 and later resolve $ref through a registry
    from referencing import Registry, Resource

    registry = Registry().with_resources(
        (s["$id"], Resource.from_contents(s)) for s in schemas)

    def validator(schema):
        return Validator(schema, registry=registry, format_checker=checker)
except ImportError:
    # Debian 12's python3-jsonschema (4.10): a RefResolver with a store
    store = {s["$id"]: s for s in schemas}

    def validator(schema):
        # schema is {"$ref": URL}: validate against what it names, with
        # the named document as the base that its own "#/..." refs use
        base, frag = urldefrag(schema["$ref"])
        doc = store[base]
        resolver = jsonschema.RefResolver(base, doc, store=store)
        sub = resolver.resolve_fragment(doc, frag) if frag else doc
        return Validator(sub, resolver=resolver, format_checker=checker)


def check(instance, schema):
    return [e.message for e in validator(schema).iter_errors(instance)]


def facets(ev):
    yield from (ev.get("run", {}).get("facets") or {}).items()
    yield from (ev.get("job", {}).get("facets") or {}).items()
    for d in ev.get("inputs", []):
        yield from (d.get("inputFacets") or {}).items()
        yield from (d.get("facets") or {}).items()
    for d in ev.get("outputs", []):
        yield from (d.get("outputFacets") or {}).items()
        yield from (d.get("facets") or {}).items()


bad = n = 0
for lineno, line in enumerate(sys.stdin, 1):
    n += 1
    ev = json.loads(line)
    errors = check(ev, {"$ref": ol + "#/$defs/RunEvent"})
    for name, f in facets(ev):
        if name not in facet_schema:
            errors.append("facet %s: no schema for it" % name)
            continue
        sch = facet_schema[name]
        errors += ["facet %s: %s" % (name, m)
                   for m in check({name: f}, {"$ref": sch["$id"]})]
    if errors:
        bad += 1
        print("event %d: %s" % (lineno, "; ".join(errors)))
print("%d events, %d invalid" % (n, bad), file=sys.stderr)
sys.exit(1 if bad or n == 0 else 0)
