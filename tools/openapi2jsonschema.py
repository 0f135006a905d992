#!/usr/bin/env python3
"""Turn Kubernetes OpenAPI documents and CRDs into kubeconform JSON schemas.

Written for homelabgen; it depends on nothing but the standard library and,
for the ``crd`` mode, PyYAML (installed in the tools venv with yamllint).

Two modes:

``k8s SWAGGER_JSON OUT_DIR``
    Reads a Kubernetes release's ``api/openapi-spec/swagger.json`` (OpenAPI v2)
    and writes one file per group/version/kind into OUT_DIR, named the way
    kubeconform's ``{{ .ResourceKind }}{{ .KindSuffix }}.json`` template expects
    (``deployment-apps-v1.json``, ``service-v1.json``, ...).

``crd OUT_DIR CRD_YAML... [--objectmeta-from SWAGGER_JSON]``
    Reads CustomResourceDefinition documents and writes
    ``OUT_DIR/<group>/<kind>_<version>.json`` (kubeconform's
    ``{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json``).
    With --objectmeta-from, ``metadata`` is checked against the real ObjectMeta
    schema instead of the CRD's bare ``type: object``.

Every schema is *standalone* (no reference leaves the file: references are
inlined; a recursive type is kept once under the file's own ``definitions``) and
*strict*: an object that lists its ``properties`` gets
``additionalProperties: false`` unless it already says what extra keys may hold
or carries ``x-kubernetes-preserve-unknown-fields``.  Fields other than the root
also accept ``null`` (rendered manifests often carry ``creationTimestamp: null``
and the API server drops nulls).  ``format`` is dropped (Kubernetes formats such
as int-or-string are not JSON Schema formats); int-or-string becomes
string-or-integer and Quantity string-or-number.
"""

import argparse
import copy
import json
import os
import sys

JSON_SCHEMA_DRAFT = "http://json-schema.org/draft-07/schema#"

# Keys dropped from every schema node: Kubernetes extensions and keywords that
# either mean nothing to a JSON Schema validator or would wrongly reject data.
DROP_KEYS = {"format", "x-kubernetes-list-type", "x-kubernetes-list-map-keys",
             "x-kubernetes-map-type", "x-kubernetes-patch-strategy",
             "x-kubernetes-patch-merge-key", "x-kubernetes-group-version-kind",
             "x-kubernetes-validations", "x-kubernetes-unions",
             "x-kubernetes-preserve-unknown-fields", "x-kubernetes-int-or-string",
             "x-kubernetes-embedded-resource", "nullable", "example",
             "externalDocs", "readOnly", "writeOnly", "xml", "discriminator"}

INT_OR_STRING_FORMAT = "int-or-string"
QUANTITY_DEF = "io.k8s.apimachinery.pkg.api.resource.Quantity"
INT_OR_STRING_DEF = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
OBJECT_META_DEF = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"


def fail(msg):
    print(f"openapi2jsonschema: error: {msg}", file=sys.stderr)
    sys.exit(1)


def add_null(schema):
    """Let a (non-root) node also accept null."""
    if not isinstance(schema, dict):
        return schema
    t = schema.get("type")
    if isinstance(t, str):
        if t != "null":
            schema["type"] = [t, "null"]
    elif isinstance(t, list):
        if "null" not in t:
            schema["type"] = t + ["null"]
    elif "oneOf" in schema or "anyOf" in schema:
        key = "oneOf" if "oneOf" in schema else "anyOf"
        if not any(isinstance(s, dict) and s.get("type") == "null" for s in schema[key]):
            schema[key] = schema[key] + [{"type": "null"}]
    elif "$ref" in schema:
        ref = schema.pop("$ref")
        schema["anyOf"] = [{"$ref": ref}, {"type": "null"}]
    return schema


class Converter:
    """Walks schema nodes, resolving swagger ``#/definitions/`` references."""

    def __init__(self, definitions):
        self.definitions = definitions or {}

    # -- one node -------------------------------------------------------
    def node(self, schema, stack, local_defs, nullable=True):
        if isinstance(schema, bool):
            return schema
        if not isinstance(schema, dict):
            fail(f"unexpected schema node {schema!r}")

        if "$ref" in schema:
            ref = schema["$ref"]
            prefix = "#/definitions/"
            if not ref.startswith(prefix):
                fail(f"unsupported $ref {ref!r}")
            name = ref[len(prefix):]
            if name not in self.definitions:
                fail(f"$ref to unknown definition {name!r}")
            if name in stack:
                # Recursive type: keep it once in this file's definitions.
                if name not in local_defs:
                    local_defs[name] = None  # placeholder, breaks the cycle
                    local_defs[name] = self.node(self.definitions[name], [name],
                                                 local_defs, nullable=False)
                out = {"$ref": prefix + name}
            else:
                out = self.node(self.definitions[name], stack + [name], local_defs,
                                nullable=False)
            # Sibling keywords of $ref (descriptions) are dropped on purpose.
            return add_null(out) if nullable else out

        out = {}
        preserve = schema.get("x-kubernetes-preserve-unknown-fields") is True
        int_or_string = (schema.get("x-kubernetes-int-or-string") is True
                         or schema.get("format") == INT_OR_STRING_FORMAT)
        embedded = schema.get("x-kubernetes-embedded-resource") is True

        for key, value in schema.items():
            if key in DROP_KEYS or key.startswith("x-"):
                continue
            if key == "properties":
                out[key] = {p: self.node(s, stack, local_defs) for p, s in value.items()}
            elif key == "patternProperties":
                out[key] = {p: self.node(s, stack, local_defs) for p, s in value.items()}
            elif key in ("items", "additionalItems", "not"):
                if isinstance(value, list):
                    out[key] = [self.node(s, stack, local_defs) for s in value]
                else:
                    # List items and map values stay non-null (the API server
                    # rejects a null inside a list).
                    out[key] = self.node(value, stack, local_defs, nullable=False)
            elif key == "additionalProperties":
                out[key] = value if isinstance(value, bool) else \
                    self.node(value, stack, local_defs, nullable=False)
            elif key in ("allOf", "anyOf", "oneOf"):
                out[key] = [self.node(s, stack, local_defs, nullable=False) for s in value]
            elif key == "definitions":
                continue
            else:
                out[key] = copy.deepcopy(value)

        if int_or_string:
            out.pop("type", None)
            out.pop("anyOf", None)  # CRDs repeat int/string here
            out["oneOf"] = [{"type": "string"}, {"type": "integer"}]

        # Strictness: close objects that list their properties.
        is_object = out.get("type") == "object" or (
            "type" not in out and "properties" in out)
        if (is_object and "properties" in out and "additionalProperties" not in out
                and not preserve and not embedded):
            out["additionalProperties"] = False
        if preserve and "additionalProperties" in out and out["additionalProperties"] is False:
            del out["additionalProperties"]

        return add_null(out) if nullable else out

    def root(self, schema, name_for_stack=None):
        local_defs = {}
        stack = [name_for_stack] if name_for_stack else []
        out = self.node(schema, stack, local_defs, nullable=False)
        if local_defs:
            out["definitions"] = local_defs
        out["$schema"] = JSON_SCHEMA_DRAFT
        return out


def k8s_definitions(swagger):
    defs = copy.deepcopy(swagger.get("definitions") or {})
    if not defs:
        fail("no 'definitions' in the OpenAPI document (expected swagger 2.0)")
    # The two Kubernetes scalar types whose JSON form is wider than 'string'.
    if INT_OR_STRING_DEF in defs:
        d = defs[INT_OR_STRING_DEF]
        defs[INT_OR_STRING_DEF] = {"description": d.get("description", ""),
                                   "oneOf": [{"type": "string"}, {"type": "integer"}]}
    if QUANTITY_DEF in defs:
        d = defs[QUANTITY_DEF]
        defs[QUANTITY_DEF] = {"description": d.get("description", ""),
                              "oneOf": [{"type": "string"}, {"type": "number"}]}
    return defs


def kind_suffix(group, version):
    """kubeconform's KindSuffix: '-' + first label of the group, then '-' + version."""
    if group:
        return "-" + group.split(".")[0].lower() + "-" + version.lower()
    return "-" + version.lower()


def api_version(group, version):
    return f"{group}/{version}" if group else version


def pin_type_meta(schema, group, version, kind):
    """apiVersion and kind must name exactly this resource."""
    props = schema.setdefault("properties", {})
    props["apiVersion"] = {"type": "string", "enum": [api_version(group, version)]}
    props["kind"] = {"type": "string", "enum": [kind]}


def write_json(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1, sort_keys=True)
        f.write("\n")
    os.replace(tmp, path)


def cmd_k8s(args):
    with open(args.swagger, encoding="utf-8") as f:
        swagger = json.load(f)
    defs = k8s_definitions(swagger)
    conv = Converter(defs)
    written = {}
    for name in sorted(defs):
        gvks = swagger["definitions"][name].get("x-kubernetes-group-version-kind") or []
        if not gvks:
            continue
        schema = None
        for gvk in gvks:
            group, version, kind = gvk.get("group", ""), gvk["version"], gvk["kind"]
            # Shared meta kinds (DeleteOptions, WatchEvent, ...) list many groups;
            # a real resource lives in the definition named after its own kind.
            fname = f"{kind.lower()}{kind_suffix(group, version)}.json"
            if fname in written and not name.endswith("." + kind):
                continue
            if schema is None:
                schema = conv.root(defs[name], name)
                schema["type"] = "object"
            out = copy.deepcopy(schema)
            pin_type_meta(out, group, version, kind)
            write_json(os.path.join(args.out_dir, fname), out)
            written[fname] = name
    if not written:
        fail("no definition carries x-kubernetes-group-version-kind")
    print(f"wrote {len(written)} Kubernetes schemas to {args.out_dir}")


def load_yaml_docs(path):
    try:
        import yaml  # PyYAML, present in the tools venv (yamllint needs it)
    except ImportError:
        fail("the crd mode needs PyYAML: run it with the tools venv's python")
    with open(path, encoding="utf-8") as f:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        return [d for d in yaml.load_all(f, Loader=loader) if d]


def cmd_crd(args):
    meta_schema = None
    if args.objectmeta_from:
        with open(args.objectmeta_from, encoding="utf-8") as f:
            swagger = json.load(f)
        defs = k8s_definitions(swagger)
        if OBJECT_META_DEF not in defs:
            fail(f"{OBJECT_META_DEF} not found in {args.objectmeta_from}")
        meta_schema = Converter(defs).root(defs[OBJECT_META_DEF], OBJECT_META_DEF)
        meta_schema.pop("$schema", None)
    conv = Converter({})
    count = 0
    for path in args.crds:
        for doc in load_yaml_docs(path):
            if doc.get("kind") != "CustomResourceDefinition":
                continue
            spec = doc.get("spec") or {}
            group = spec.get("group")
            kind = (spec.get("names") or {}).get("kind")
            if not group or not kind:
                fail(f"{path}: CRD without spec.group or spec.names.kind")
            versions = spec.get("versions") or []
            for v in versions:
                schema = ((v.get("schema") or {}).get("openAPIV3Schema"))
                if schema is None:
                    schema = (spec.get("validation") or {}).get("openAPIV3Schema")
                if schema is None:
                    print(f"  skip {group}/{kind} {v.get('name')}: no schema", file=sys.stderr)
                    continue
                out = conv.root(schema)
                out["type"] = "object"
                pin_type_meta(out, group, v["name"], kind)
                if meta_schema is not None:
                    out["properties"]["metadata"] = copy.deepcopy(meta_schema)
                    if "definitions" in meta_schema:
                        out.setdefault("definitions", {}).update(
                            out["properties"]["metadata"].pop("definitions"))
                if "additionalProperties" not in out and \
                        schema.get("x-kubernetes-preserve-unknown-fields") is not True:
                    out["additionalProperties"] = False
                fname = os.path.join(args.out_dir, group,
                                     f"{kind.lower()}_{v['name']}.json")
                write_json(fname, out)
                count += 1
                print(f"  {group}/{kind.lower()}_{v['name']}.json")
    if count == 0:
        fail("no CustomResourceDefinition with a schema found in the given files")
    print(f"wrote {count} CRD schemas to {args.out_dir}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="mode", required=True)
    k = sub.add_parser("k8s", help="Kubernetes swagger.json -> kubeconform schemas")
    k.add_argument("swagger")
    k.add_argument("out_dir")
    c = sub.add_parser("crd", help="CRD YAML files -> kubeconform CRD schemas")
    c.add_argument("out_dir")
    c.add_argument("crds", nargs="+")
    c.add_argument("--objectmeta-from", metavar="SWAGGER_JSON")
    args = p.parse_args(argv)
    if args.mode == "k8s":
        cmd_k8s(args)
    else:
        cmd_crd(args)


if __name__ == "__main__":
    main()
