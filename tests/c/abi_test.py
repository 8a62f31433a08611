#!/usr/bin/env python3
"""The header and the library agree on the pqc_ API.

Checks, each in both directions where it has two:
  1. every function declared in include/pqc_iiot.h is exported by
     libpqc_iiot.so (nm -D --defined-only), and every exported pqc_ symbol is
     declared;
  2. the same for the global text symbols of libpqc_iiot.a;
  3. every declared function is called by each of the given C sources (the
     -Werror test programs), so "a C program uses each function" cannot rot
     as the header grows.

usage: abi_test.py HEADER LIB.so [--archive LIB.a] [--uses SOURCE.c ...]
"""
import argparse
import re
import subprocess
import sys


def declared_functions(header_path):
    with open(header_path, encoding="utf-8") as f:
        text = f.read()
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"//[^\n]*", " ", text)
    # Preprocessor lines may mention pqc_ names in macros; they are not
    # functions.
    text = "\n".join(l for l in text.splitlines() if not l.lstrip().startswith("#"))
    # A declaration is everything from PQC_API to the next ';'.
    names = set()
    for decl in re.findall(r"\bPQC_API\b([^;]*);", text):
        m = re.search(r"\b(pqc_\w+)\s*\(", decl)
        if not m:
            sys.exit(f"abi_test: cannot parse declaration: PQC_API{decl};")
        names.add(m.group(1))
    # Catch a function declared without PQC_API: it would not be exported on
    # every platform.
    for m in re.finditer(r"^[^\n;{}()]*\b(pqc_\w+)\s*\(", text, flags=re.M):
        line = m.group(0)
        if "PQC_API" not in line and "typedef" not in line:
            if m.group(1) not in names:
                sys.exit(f"abi_test: {m.group(1)} is declared without PQC_API")
    return names


def nm_symbols(args):
    out = subprocess.run(["nm"] + args, check=True, capture_output=True, text=True).stdout
    names = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[1] in ("T", "W", "i") and parts[2].startswith("pqc_"):
            names.add(parts[2])
    return names


def called_functions(source_path):
    with open(source_path, encoding="utf-8") as f:
        text = f.read()
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return set(re.findall(r"\b(pqc_\w+)\s*\(", text))


def report(title, names):
    print(f"  {title}:")
    for n in sorted(names):
        print(f"    {n}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("header")
    ap.add_argument("shared")
    ap.add_argument("--archive")
    ap.add_argument("--uses", nargs="*", default=[])
    a = ap.parse_args()

    declared = declared_functions(a.header)
    ok = True
    print(f"{len(declared)} functions declared in {a.header}")

    libs = [("shared library", a.shared, ["-D", "--defined-only", a.shared])]
    if a.archive:
        libs.append(("static archive", a.archive, ["--defined-only", a.archive]))
    for what, path, args in libs:
        exported = nm_symbols(args)
        print(f"{len(exported)} pqc_ functions exported by the {what} {path}")
        if declared - exported:
            ok = False
            report(f"declared in the header but not exported by the {what}", declared - exported)
        if exported - declared:
            ok = False
            report(f"exported by the {what} but not declared in the header", exported - declared)

    for src in a.uses:
        missing = declared - called_functions(src)
        if missing:
            ok = False
            report(f"declared but never called by {src}", missing)
        else:
            print(f"{src} calls all {len(declared)} functions")

    print("abi_test: " + ("OK" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
