#!/usr/bin/env python3
"""Largest import circle among the files of one crate's src (default crates/server/src).

A file imports another when it names `crate::path`, `super::path` or a child module's path (in `use`
lines or inline) that resolves to the other file's module; `mod x;` alone is not an import. Test modules (`#[cfg(test)]` onwards) are ignored. Prints the
largest strongly connected component and its size: `python3 scripts/import-circles.py [src-dir]`.
"""
import re
import sys
from pathlib import Path

src = Path(sys.argv[1] if len(sys.argv) > 1 else "crates/server/src")


def module_of(f: Path) -> tuple:
    parts = list(f.relative_to(src).with_suffix("").parts)
    if parts[-1] in ("mod", "lib", "main"):
        parts.pop()
    return tuple(parts)


modules = {module_of(f): f for f in src.rglob("*.rs")}


def resolve(path: list) -> tuple:
    """The longest prefix of `path` that is a module file."""
    for n in range(len(path), -1, -1):
        if tuple(path[:n]) in modules:
            return tuple(path[:n])
    return ()


def paths(text: str, me: tuple):
    # Expand one level of braces: `crate::a::{b, c::d}` -> crate::a::b, crate::a::c::d.
    for m in re.finditer(r"\b(crate|super)((?:::\w+)*)(?:::\{([^}]*)\})?", text):
        root, tail, group = m.group(1), m.group(2), m.group(3)
        start = [] if root == "crate" else list(me[:-1])
        head = start + [p for p in tail.split("::") if p]
        for item in (group.split(",") if group else [""]):
            item = item.strip().split(" as ")[0]
            yield head + [p for p in item.split("::") if p and p not in ("self", "*")]
    # Paths relative to this module: its child modules named without `crate::`/`self::`.
    own = list(me)
    for m in re.finditer(r"(?<![:\w])(?:self::)?(\w+)::", text):
        if m.group(1) not in ("crate", "super", "self") and tuple(own + [m.group(1)]) in modules:
            yield own + [m.group(1)]


edges = {m: set() for m in modules}
for mod, f in modules.items():
    text = f.read_text().split("#[cfg(test)]")[0]
    text = re.sub(r"//.*", "", text)
    for p in paths(text, mod):
        target = resolve(p)
        if target != mod:
            edges[mod].add(target)

# Tarjan's strongly connected components.
index, low, stack, on, comps, counter = {}, {}, [], set(), [], [0]


def visit(v):
    index[v] = low[v] = counter[0]
    counter[0] += 1
    stack.append(v)
    on.add(v)
    for w in edges[v]:
        if w not in index:
            visit(w)
            low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        comp = []
        while True:
            w = stack.pop()
            on.discard(w)
            comp.append(w)
            if w == v:
                break
        comps.append(comp)


sys.setrecursionlimit(10000)
for v in modules:
    if v not in index:
        visit(v)
big = max(comps, key=len)
name = lambda m: "/".join(m) or "lib"  # noqa: E731
print(f"{len(modules)} files; largest import circle: {len(big)} files")
if len(big) > 1:
    print("  " + ", ".join(sorted(name(m) for m in big)))
