#!/usr/bin/env python3
"""Print the provisioner environment of a rendered packer image directory, one NAME=value
a line: locals.pkr.hcl's `provision_env`, with ${var.x} and ${join(",", var.x)} resolved
from the defaults in variables.pkr.hcl. Anything else is an error (exit 2)."""

import json
import re
import sys

d = sys.argv[1]
variables = open(f"{d}/variables.pkr.hcl", encoding="utf-8").read()
defaults = {}
for m in re.finditer(r'variable\s+"([^"]+)"\s*\{(.*?)\n\}', variables, re.S):
    dm = re.search(r"^\s*default\s*=\s*(.+)$", m.group(2), re.M)
    if dm:
        defaults[m.group(1)] = json.loads(dm.group(1))
locals_text = open(f"{d}/locals.pkr.hcl", encoding="utf-8").read()
m = re.search(r"^\s*provision_env\s*=\s*(\[.*\])\s*$", locals_text, re.M)
if not m:
    sys.exit(2)


def value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def subst(expr):
    e = expr.group(1)
    j = re.fullmatch(r'join\("(.*?)",\s*var\.(\w+)\)', e)
    if j:
        return j.group(1).join(value(x) for x in defaults[j.group(2)])
    v = re.fullmatch(r"var\.(\w+)", e)
    if v and v.group(1) in defaults:
        return value(defaults[v.group(1)])
    print(f"packer_env: cannot resolve ${{{e}}}", file=sys.stderr)
    sys.exit(2)


def hcl_strings(text):
    """The strings of an HCL list literal; quotes inside ${...} do not end a string."""
    items, i = [], 0
    while i < len(text):
        if text[i] != '"':
            i += 1
            continue
        j, buf, depth = i + 1, "", 0
        while j < len(text) and (depth or text[j] != '"'):
            if text.startswith("${", j):
                depth += 1
            elif text[j] == "}" and depth:
                depth -= 1
            buf += text[j]
            j += 1
        items.append(buf)
        i = j + 1
    return items


for item in hcl_strings(m.group(1)):
    print(re.sub(r"\$\{((?:[^{}]|\{[^{}]*\})*)\}", subst, item))
