#!/usr/bin/env python3
"""Draw the site's layers from its import graph into docs/architecture.md (`make architecture`).

The picture is a Mermaid flowchart. Its boxes come from the import contracts in
pyproject.toml: one box per layer of each app (the `layers` contracts whose container is an app,
e.g. generator's interfaces, helpers, services, selectors and models), one per subpackage of
the library and of common, one for the project package. Its arrows come from the code: an
arrow A → B means some module in A imports some module in B (grimp, the graph lint-imports
checks). Where the contracts hold, every arrow points down.

    .venv/bin/python scripts/architecture.py           # rewrite the picture in the doc
    .venv/bin/python scripts/architecture.py --check   # exit 1 if the doc's picture is stale

The picture sits between the BEGIN and END markers below; the rest of the doc is left alone.
tests/test_architecture.py fails when the committed picture is not what this draws.
"""

from __future__ import annotations

import argparse
import difflib
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = ROOT / "pyproject.toml"
DOC = ROOT / "docs" / "architecture.md"
BEGIN = (
    "<!-- architecture:begin (drawn by `make architecture` from the import graph; do not edit) -->"
)
END = "<!-- architecture:end -->"

# The name of each layer of an app's `layers` contract, top to bottom.
LAYER_NAMES = {
    "generator": ["interfaces", "helpers", "services", "selectors", "models"],
    "evaluation": ["interfaces", "helpers", "services", "listener", "models"],
}
# Two pictures: the site, with the project, common and the library drawn as one box each
# (their modules listed), and the library on its own, one box per subpackage.
PICTURES = [
    ("The site", {"musicsite", "common", "musiclib"}, None),
    ("The library", set(), {"musiclib"}),
]
SKIP = ("migrations",)  # generated; nothing imports them


@dataclass
class Box:
    id: str
    package: str
    title: str
    members: list[str] = field(default_factory=list)


def _contracts() -> tuple[list[str], list[dict]]:
    config = tomllib.loads(PYPROJECT.read_text())["tool"]["importlinter"]
    return config["root_packages"], config["contracts"]


def _package_order(roots: list[str], contracts: list[dict]) -> list[str]:
    """Top-level packages top to bottom: the containerless `layers` contract over them."""
    for contract in contracts:
        if contract["type"] == "layers" and set(contract["layers"]) == set(roots):
            return list(contract["layers"])
    return sorted(roots)


def _tails(layer: str) -> list[str]:
    for sep in ("|", ":"):
        if sep in layer:
            return [t.strip().strip("()") for t in layer.split(sep)]
    return [layer.strip().strip("()")]


def _app_layers(roots: list[str], contracts: list[dict]) -> dict[str, list[list[str]]]:
    """App → its layers (module names), from the `layers` contracts whose container is a
    top-level package."""
    apps: dict[str, list[list[str]]] = {}
    for contract in contracts:
        containers = contract.get("containers") or []
        if contract["type"] != "layers" or len(containers) != 1 or containers[0] not in roots:
            continue
        app = containers[0]
        apps[app] = [[f"{app}.{t}" for t in _tails(layer)] for layer in contract["layers"]]
        names = LAYER_NAMES.get(app, [])
        if len(names) != len(apps[app]):
            sys.exit(
                f"architecture: {app}'s contract has {len(apps[app])} layers; name them in "
                "LAYER_NAMES in scripts/architecture.py"
            )
    return apps


def _short(module: str, package: str) -> str:
    return module[len(package) + 1 :]


def boxes_and_arrows(
    graph, *, whole: set[str], only: set[str] | None
) -> tuple[list[str], list[Box], set[tuple[str, str]]]:
    """The boxes (packages in `whole` as one box each) and the arrows between them, for the
    packages in `only` (all when None)."""
    roots, contracts = _contracts()
    order = [p for p in _package_order(roots, contracts) if only is None or p in only]
    apps = {a: layers for a, layers in _app_layers(roots, contracts).items() if a in order}

    boxes: dict[str, Box] = {}
    owner: dict[str, str] = {}  # module (or package) name → box id, most specific wins
    for app, layers in apps.items():
        for index, modules in enumerate(layers):
            box = boxes.setdefault(
                f"{app}_{index}", Box(f"{app}_{index}", app, LAYER_NAMES[app][index])
            )
            for module in modules:
                if module in graph.modules:
                    box.members.append(_short(module, app))
                    owner[module] = box.id
    for package in order:
        if package in apps:
            continue
        if package in whole:
            box = boxes.setdefault(package, Box(package, package, package))
            box.members = sorted(_short(m, package) for m in graph.find_children(package))
            owner[package] = package
            continue
        for child in sorted(graph.find_children(package)):
            name = _short(child, package)
            boxes[child.replace(".", "_")] = Box(child.replace(".", "_"), package, name)
            owner[child] = child.replace(".", "_")

    def box_of(module: str) -> str | None:
        parts = module.split(".")
        if any(part in SKIP for part in parts):
            return None
        for end in range(len(parts), 0, -1):
            found = owner.get(".".join(parts[:end]))
            if found:
                return found
        return None  # a package's own __init__ (e.g. `generator`), which imports nothing

    arrows: set[tuple[str, str]] = set()
    for importer in graph.modules:
        source = box_of(importer)
        if source is None:
            continue
        for imported in graph.find_modules_directly_imported_by(importer):
            target = box_of(imported)
            if target is not None and target != source:
                arrows.add((source, target))
    # Every module of an app is in a layer, but for packages that only hold placed modules
    # (evaluation.survey): the contracts' `exhaustive` checks the same.
    unplaced = sorted(
        m
        for m in graph.modules
        if m.split(".")[0] in apps
        and box_of(m) is None
        and not any(p in SKIP for p in m.split("."))
        and not any(owned.startswith(m + ".") for owned in owner)
    )
    if unplaced:
        sys.exit(f"architecture: modules in no layer of pyproject.toml: {', '.join(unplaced)}")
    ordered = sorted(boxes.values(), key=lambda b: (order.index(b.package), b.id))
    return order, ordered, arrows


def mermaid(title: str, order: list[str], boxes: list[Box], arrows: set[tuple[str, str]]) -> str:
    lines = [f"{title}:", "", "```mermaid", "flowchart TB"]
    for package in order:
        mine = [b for b in boxes if b.package == package]
        if not mine:
            continue
        if len(mine) == 1 and mine[0].id == package:
            members = " · ".join(mine[0].members)
            lines.append(f'  {package}["<b>{package}</b><br/>{members}"]')
            continue
        lines.append(f'  subgraph {package}_pkg["{package}"]')
        for box in mine:
            if box.members:
                lines.append(f'    {box.id}["<b>{box.title}</b><br/>{" · ".join(box.members)}"]')
            else:
                lines.append(f'    {box.id}["{box.title}"]')
        lines.append("  end")
    rank = {b.id: i for i, b in enumerate(boxes)}
    for source, target in sorted(arrows, key=lambda a: (rank[a[0]], rank[a[1]])):
        lines.append(f"  {source} --> {target}")
    lines.append("```")
    return "\n".join(lines) + "\n"


def draw() -> str:
    sys.path.insert(0, str(ROOT))
    import grimp

    roots, _ = _contracts()
    graph = grimp.build_graph(*roots, cache_dir=None)
    return "\n".join(
        mermaid(title, *boxes_and_arrows(graph, whole=whole, only=only))
        for title, whole, only in PICTURES
    )


def with_picture(doc: str, picture: str) -> str:
    if BEGIN not in doc or END not in doc:
        sys.exit(f"architecture: {DOC.relative_to(ROOT)} lacks the markers {BEGIN} … {END}")
    head, rest = doc.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{picture}{END}{tail}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the doc is stale")
    args = parser.parse_args()
    doc = DOC.read_text()
    new = with_picture(doc, draw())
    if args.check:
        if new != doc:
            sys.stdout.writelines(
                difflib.unified_diff(
                    doc.splitlines(keepends=True),
                    new.splitlines(keepends=True),
                    "committed",
                    "drawn",
                )
            )
            print("architecture: the picture is stale; run `make architecture`", file=sys.stderr)
            return 1
        return 0
    if new != doc:
        DOC.write_text(new)
        print(f"architecture: redrew the picture in {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
