#!/usr/bin/env python3
"""Usage: validate-schema.py SCHEMA FILE...: validates each FILE against the
JSON Schema SCHEMA (Debian's python3-jsonschema); exits 1 on the first
file that does not conform."""
import json
import sys

import jsonschema

schema = json.load(open(sys.argv[1]))
jsonschema.Draft202012Validator.check_schema(schema)
validator = jsonschema.Draft202012Validator(schema)
for path in sys.argv[2:]:
    errors = list(validator.iter_errors(json.load(open(path))))
    for error in errors:
        location = "/".join(str(p) for p in error.absolute_path)
        print(f"{path}: {location}: {error.message}")
    if errors:
        sys.exit(1)
print(f"{len(sys.argv) - 2} files conform")
