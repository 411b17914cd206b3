"""The package's layering, read from the source: the console's pages never import the API
(the API's app mounts them), and no module imports itself back through others, counting
the imports made inside functions (those hide a cycle; they do not remove it). Routes and
pages call services: no SQL of their own (it lives in netgauge.inventory), and no reaching
through Service into its domain parts (Service has a method for what they read)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import netgauge

SRC = Path(netgauge.__file__).parent


def module_name(path: Path) -> str:
    parts = path.with_suffix("").relative_to(SRC.parent).parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> Iterator[tuple[str, bool]]:
    """(module imported, whether only for type checking) for every netgauge import."""
    tree = ast.parse(path.read_text())
    typing_only: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            typing_only.update(id(n) for n in ast.walk(node))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("netgauge"):
            for alias in node.names:
                yield f"{node.module}.{alias.name}", id(node) in typing_only
            yield node.module, id(node) in typing_only
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("netgauge"):
                    yield alias.name, id(node) in typing_only
        elif isinstance(node, ast.Call) and ast.unparse(node.func).endswith("import_module"):
            yield from _dynamic(node.args[0] if node.args else None)


def _dynamic(arg: ast.expr | None) -> Iterator[tuple[str, bool]]:
    """importlib.import_module("netgauge.x") or (f"netgauge.probes.{name}"): every
    module under that prefix (how load_builtin_probes registers the probes and pollers)."""
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        yield arg.value, False
    elif isinstance(arg, ast.JoinedStr) and arg.values:
        head = arg.values[0]
        if isinstance(head, ast.Constant) and str(head.value).startswith("netgauge."):
            prefix = str(head.value)
            for path in SRC.rglob("*.py"):
                if module_name(path).startswith(prefix):
                    yield module_name(path), False


def with_packages(module: str) -> Iterator[str]:
    """``a.b.c`` and the packages whose ``__init__`` importing it runs first: ``a.b``, ``a``."""
    parts = module.split(".")
    for end in range(len(parts), 1, -1):
        yield ".".join(parts[:end])


def graph() -> dict[str, set[str]]:
    files = {module_name(p): p for p in SRC.rglob("*.py")}
    edges: dict[str, set[str]] = {}
    for name, path in files.items():
        own = set(with_packages(name))  # its own packages are being imported already
        edges[name] = {
            m for imported, typing in imports_of(path) if not typing
            for m in with_packages(imported) if m in files and m not in own
        }  # fmt: skip
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while (w := stack.pop()) != v:
                component.append(w)
            component.append(v)
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_the_console_never_imports_the_api() -> None:
    edges = graph()
    offending = {
        (m, d) for m, ds in edges.items() if m.startswith("netgauge.web") for d in ds
        if d.startswith("netgauge.api")
    }  # fmt: skip
    assert not offending


def test_the_pollers_and_probes_never_import_the_config_loader() -> None:
    edges = graph()
    offending = {
        (m, d) for m, ds in edges.items()
        if m.startswith(("netgauge.pollers", "netgauge.probes")) for d in ds
        if d == "netgauge.config.loader"
    }  # fmt: skip
    assert not offending


def test_no_module_imports_itself_back() -> None:
    assert cycles(graph()) == []


# what a route or page must not reach through Service: its domain parts (the application
# services it holds, `live`, `accounts`, `inventory`..., are what they call)
DOMAIN_PARTS = frozenset(
    {"status", "devices", "runner", "writer", "scheduler", "store", "throttle"}
)
HANDLERS = ("netgauge.api.routes", "netgauge.web.pages")


def handler_files() -> list[Path]:
    found = [p for p in SRC.rglob("*.py") if module_name(p).startswith(HANDLERS)]
    assert len(found) > 20  # the layout moved: the rules below would check nothing
    return found


def third_party_imports(path: Path) -> Iterator[str]:
    """Every top-level package ``path`` imports, at any depth of its code."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node.module.split(".")[0]
        elif isinstance(node, ast.Import):
            yield from (alias.name.split(".")[0] for alias in node.names)


def is_service(node: ast.expr) -> bool:
    """``service`` or ``<anything>.service`` (``request.app.state.service``)."""
    return (isinstance(node, ast.Name) and node.id == "service") or (
        isinstance(node, ast.Attribute) and node.attr == "service"
    )


def reached_parts(source: str) -> Iterator[tuple[int, str]]:
    """(line, chain) of the ``service.<part>.<attr>`` chains with <part> a domain part."""
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Attribute)
            and is_service(node.value.value)
            and node.value.attr in DOMAIN_PARTS
        ):
            yield node.lineno, ast.unparse(node)


def test_the_chain_rule_sees_what_it_forbids() -> None:
    source = "service.store.points(1)\nrequest.app.state.service.status.get('a')\n"
    allowed = "service.live.of(1)\nservice.points(1)\nservice.inventory.get_target('a')\n"
    assert list(reached_parts(source + allowed)) == [
        (1, "service.store.points"),
        (2, "request.app.state.service.status.get"),
    ]


def test_routes_and_pages_write_no_sql() -> None:
    offending = {
        module_name(p) for p in handler_files() if "sqlalchemy" in set(third_party_imports(p))
    }
    assert not offending  # their queries belong in netgauge.inventory


def test_routes_and_pages_never_reach_through_service_into_its_parts() -> None:
    offending = [
        f"{p.name}:{line} {chain}"
        for p in sorted(handler_files())
        for line, chain in reached_parts(p.read_text())
    ]
    assert not offending  # give Service a method instead
