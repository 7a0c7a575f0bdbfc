#!/usr/bin/env python3
"""Extracts the facts the DS3 contract test needs from Spectra's published API contract.

Usage: python3 tools/ds3/extract_contract.py CONTRACT_XML [OUT_JSON]

CONTRACT_XML is the BlackPearl DS3 API contract (6.0.0, build 3247577: the file
`6_0_0_3247577_contract.xml` of SpectraLogic/ds3_autogen, Apache-2.0). OUT_JSON defaults to
conformance/data/ds3/contract.json. The output is committed: no test or build reads the
contract itself, so the project works without the original file.

For every amazons3 and spectrads3 request handler the output keeps its short name, the
HTTP verb, the path shape, the `operation=` value, the required and optional query
parameters as the SDKs send them (snake_case), and its response codes with the body type
of each (`Error`, `MasterObjectList`, `Objects`, `null` for no body, ...). Standard
library only.
"""

import json
import re
import sys
import xml.etree.ElementTree as ET

# The SDK names of the contract's Java types (ds3_autogen typeNameMap.json), for the types
# the DS3 family meets; other types keep their simple class name.
SDK_NAMES = {
    "JobWithChunksApiBean": "MasterObjectList",
    "JobChunkApiBean": "Objects",
    "BlobApiBean": "BulkObject",
    "NodeApiBean": "JobNode",
    "HttpErrorResultApiBean": "Error",
    "JobApiBean": "Job",
    "Job": "ActiveJob",
    "JobsApiBean": "JobList",
}


def snake(name):
    """CamelCase to the snake_case the SDK generators send (`MaxUploadSize` -> `max_upload_size`)."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def simple_type(fqn):
    """A response type's short name: `null`, `String`, or the SDK name of the class."""
    if fqn in ("null", "array"):
        return fqn
    short = fqn.rsplit(".", 1)[-1]
    return SDK_NAMES.get(short, short)


def params(request, tag):
    """The query parameters under `tag`, as [snake_name, type] pairs (type `void` = a flag)."""
    out = []
    holder = request.find(tag)
    if holder is None:
        return out
    for p in holder.findall("Param"):
        out.append([snake(p.get("Name", "")), simple_type(p.get("Type", ""))])
    return out


def path_shape(classification, request):
    """The request path with placeholders, as the contract's README explains it."""
    if classification == "amazons3":
        parts = []
        if request.get("BucketRequirement") == "REQUIRED":
            parts.append("{bucket}")
        if request.get("ObjectRequirement") == "REQUIRED":
            parts.append("{object}")
        return "/" + "/".join(parts)
    resource = (request.get("Resource") or "").lower()
    path = "/_rest_/" + resource
    if request.get("IncludeIdInPath") == "true":
        path += "/{id}"
    return path


def handler_entry(handler):
    classification = handler.get("Classification")
    request = handler.find("Request")
    name = handler.get("Name", "").rsplit(".", 1)[-1]
    if name.endswith("RequestHandler"):
        name = name[: -len("RequestHandler")]
    codes = {}
    for rc in handler.findall("ResponseCodes/ResponseCode"):
        code = rc.findtext("Code", "").strip()
        types = []
        for rt in rc.findall("ResponseTypes/ResponseType"):
            t = simple_type(rt.get("Type", ""))
            if t == "array" and rt.get("ComponentType"):
                t = "array of " + simple_type(rt.get("ComponentType"))
            types.append(t)
        codes[code] = types
    return {
        "name": name,
        "classification": classification,
        "verb": request.get("HttpVerb"),
        "path": path_shape(classification, request),
        "operation": request.get("Operation"),
        "required": params(request, "RequiredQueryParams"),
        "optional": params(request, "OptionalQueryParams"),
        "codes": codes,
    }


def main(argv):
    if len(argv) < 2:
        sys.stderr.write(__doc__)
        return 2
    out_path = argv[2] if len(argv) > 2 else "conformance/data/ds3/contract.json"
    root = ET.parse(argv[1]).getroot()
    handlers = []
    for handler in root.iter("RequestHandler"):
        if handler.get("Classification") not in ("amazons3", "spectrads3"):
            continue
        if handler.find("Request") is None:
            continue
        handlers.append(handler_entry(handler))
    handlers.sort(key=lambda h: (h["classification"], h["name"]))
    with open(out_path, "w", encoding="utf-8") as f:
        f.write("{\n")
        f.write('  "source": "SpectraLogic/ds3_autogen 6_0_0_3247577_contract.xml (Apache-2.0), '
                'extracted by tools/ds3/extract_contract.py",\n')
        f.write('  "handlers": [\n')
        lines = [
            "    " + json.dumps(h, sort_keys=True, separators=(",", ":")) for h in handlers
        ]
        f.write(",\n".join(lines))
        f.write("\n  ]\n}\n")
    print(f"{len(handlers)} handlers written to {out_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
