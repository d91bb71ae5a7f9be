#!/usr/bin/env python3
"""Generates src/proto/schema.txt: the protobuf field numbers of the Kubernetes API types.

kubectl sends built-in kinds as protobuf. The field numbers are the Kubernetes wire contract;
this reads them from the prost bindings of the `k8s-pb` crate and the JSON field names from
`k8s-openapi` (both in the local cargo registry) and writes one line per message:

    NAME TAG:JSON:TYPE ...      TYPE = s|i32|i64|b|y|d|M<msg>, prefixed by * (repeated), % (map) or ^ (embedded: inlined)

Run: python3 tools/gen_proto_schema.py > src/proto/schema.txt   (-v lists names guessed by camelCase)
"""
import glob
import os
import re
import sys

HOME = os.path.expanduser("~/.cargo/registry/src")
PB = sorted(glob.glob(f"{HOME}/*/k8s-pb-0.9.*/src"))[-1]
OPENAPI = sorted(glob.glob(f"{HOME}/*/k8s-openapi-0.29.*/src/v1_33"))[-1]

# Modules served (stable versions) plus the shared apimachinery types.
KEEP = re.compile(
    r"^(api/[a-z]+/v[0-9]+|apimachinery/pkg/(apis/meta/v1|runtime|util/intstr|api/resource)"
    r"|apiextensions_apiserver/pkg/apis/apiextensions/v1"
    r"|kube_aggregator/pkg/apis/apiregistration/v1)$"
)
SCALAR = {"string": "s", "int32": "i32", "int64": "i64", "bool": "b", "bytes": "y", "double": "d"}


def norm(name):
    return name.replace("r#", "").replace("_", "").lower()


def json_names(module, struct):
    """normalized rust field name -> JSON name, from the k8s-openapi struct of the same module."""
    out = {}
    for path in glob.glob(f"{OPENAPI}/{module}/*.rs"):
        text = open(path).read()
        # k8s-pb spells acronyms as words (HttpGetAction): compare names case-insensitively.
        if struct.lower() not in (n.lower() for n in re.findall(r"pub struct (\w+)", text)):
            continue
        for js, key in re.findall(r'"([A-Za-z0-9$_.-]+)" => Field::Key_([a-z0-9_]+)', text):
            out[norm(key.rstrip("_"))] = js
    return out


def camel(snake):
    parts = snake.replace("r#", "").split("_")
    return parts[0] + "".join(p[:1].upper() + p[1:] for p in parts[1:])


def resolve(module, ty):
    path = ty.split("::")
    mod = module.split("/")
    ups = 0
    while path and path[0] == "super":
        ups += 1
        path = path[1:]
    if ups:
        mod = mod[: len(mod) - ups]
        return ".".join(mod + path).lstrip(".")
    return ".".join(mod + path)


def message_type(decl):
    ty = re.sub(r"\s+", "", decl.split(":", 1)[1]).rstrip(",")
    for wrapper in ["::core::option::Option<", "::prost::alloc::vec::Vec<", "::prost::alloc::boxed::Box<"]:
        ty = ty.replace(wrapper, "")
    if ty.startswith("::prost::alloc::collections::BTreeMap<"):
        ty = ty[len("::prost::alloc::collections::BTreeMap<"):].split(",", 1)[1]
    return ty.rstrip(">,")


def main():
    lines_out = []
    for path in sorted(glob.glob(f"{PB}/**/mod.rs", recursive=True)):
        module = os.path.dirname(os.path.relpath(path, PB))
        if not KEEP.match(module):
            continue
        lines = open(path).read().split("\n")
        i = 0
        struct, fields, names = None, [], {}
        while i < len(lines):
            line = lines[i].strip()
            m = re.match(r"pub struct (\w+) \{", line)
            if m:
                struct, fields = m.group(1), []
                names = json_names(module, struct)
            elif struct and line == "}":
                lines_out.append(module.replace("/", ".") + "." + struct + " " + " ".join(fields))
                struct = None
            elif struct and line.startswith("#[prost("):
                attr = line
                decl = ""
                i += 1
                while True:
                    decl += lines[i].strip()
                    if decl.endswith(",") and decl.count("<") == decl.count(">"):
                        break
                    i += 1
                name = decl.split(":", 1)[0].replace("pub ", "").strip()
                tag = re.search(r'tag = "(\d+)"', attr).group(1)
                js = names.get(norm(name))
                inline = False
                if js is None:
                    js = camel(name)
                    # Go embeds a struct as a field named after its type (or Probe's handler):
                    # JSON inlines its fields.
                    if names and "message" in attr and "repeated" not in attr:
                        type_name = message_type(decl).split("::")[-1]
                        inline = camel(name) == type_name[:1].lower() + type_name[1:] or (
                            struct, name) == ("Probe", "handler")
                    if (struct, name) == ("JsonSchemaProps", "ref"):
                        js = "$ref"
                    if "-v" in sys.argv:
                        print(f"no JSON name: {module}.{struct}.{js} inline={inline}", file=sys.stderr)
                kind = re.match(r"#\[prost\((\w+)", attr).group(1)
                if kind == "btree_map":
                    value = re.search(r'btree_map = "string, (\w+)"', attr).group(1)
                    t = "%" + (SCALAR[value] if value in SCALAR else "M" + resolve(module, message_type(decl)))
                else:
                    t = SCALAR[kind] if kind in SCALAR else "M" + resolve(module, message_type(decl))
                    if "repeated" in attr:
                        t = "*" + t
                    if inline:
                        t = "^" + t
                fields.append(f"{tag}:{js}:{t}")
            i += 1
    print("\n".join(lines_out))


if __name__ == "__main__":
    sys.exit(main())
