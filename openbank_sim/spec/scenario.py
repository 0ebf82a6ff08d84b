"""Scenarios: TOML files loaded into validated, immutable :class:`Scenario` objects.

A :class:`Scenario` keeps the table *as written* (after overrides) and the validated
:class:`~openbank_sim.spec.types.Spec` built from it. Overrides use dotted paths through the file
as written (``bank.pools.core.servers``, ``partners.0.users``, ``gateway.limits.1.rate``); they
may fill any key of a fixed table but never create a new pool, product, journey, partner,
limit or profile. A file may inherit from another with ``extends`` (see :func:`load_scenario`).
"""

from __future__ import annotations

import copy
import json
import math
import os
import reprlib
from collections.abc import Iterable, Mapping
from difflib import get_close_matches
from importlib import resources
from pathlib import Path
from typing import Any

from ..errors import ScenarioError, did_you_mean
from . import toml_text
from .bounds import MAX_FILE_BYTES, MAX_NESTING
from .ranges import ParameterRange
from .readers import parse_override_value
from .schema import Spec, build

__all__ = ["Scenario", "load_scenario", "parse_override_value", "shipped_scenarios"]

# The top-level key naming the scenario a file inherits from.
_EXTENDS = "extends"

# Tables whose children are named entries the user created (an override must not invent one).
_NAMED_COLLECTIONS = {
    ("bank", "pools"): "pool",
    ("bank", "products"): "product",
    ("journeys",): "journey",
    ("profiles",): "profile",
}


def _shipped_dir() -> Path:
    return Path(str(resources.files("openbank_sim.scenarios")))


def shipped_scenarios() -> dict[str, Path]:
    """The scenarios shipped with the package, by name."""
    return {p.stem: p for p in sorted(_shipped_dir().glob("*.toml"))}


class Scenario:
    """A validated scenario. Immutable: changes make new scenarios (:meth:`with_overrides`).

    Attributes:
        spec: the validated model inputs (frozen dataclasses).
        source: the file it came from, or None.

    ``raw`` is a table as a TOML file gives it, with any ``extends`` already resolved: a table
    that still has an ``extends`` key is refused (:func:`load_scenario` resolves it). ``chain``
    records the files the table inherited from (see :attr:`extends_chain`).
    """

    __slots__ = ("_chain", "_raw", "source", "spec")

    def __init__(
        self,
        raw: Mapping[str, Any],
        source: str | Path | None = None,
        chain: tuple[str, ...] = (),
    ) -> None:
        self.source = str(source) if source is not None else None
        toml_text.check_depth(raw, self.source or "<scenario>")  # before anything recurses
        self._raw = copy.deepcopy(dict(raw))
        self._chain = tuple(str(c) for c in chain)
        if _EXTENDS in self._raw:
            raise ScenarioError(
                "inheritance is resolved when loading a file (use load_scenario)",
                path=_EXTENDS,
                value=self._raw[_EXTENDS],
                file=self.source or "<scenario>",
            )
        default_name = Path(self.source).stem if self.source else "scenario"
        try:
            self.spec: Spec = build(self._raw, default_name)
            _check_sweep(self._raw, self.spec)
        except ScenarioError as err:
            raise err.within("", file=self.source or "<scenario>") from None

    def __setattr__(self, key: str, value: Any) -> None:
        if hasattr(self, "spec"):
            raise AttributeError("Scenario is immutable; use with_overrides()")
        object.__setattr__(self, key, value)

    def __delattr__(self, key: str) -> None:
        raise AttributeError("Scenario is immutable")

    # -- views ---------------------------------------------------------------------------
    @property
    def name(self) -> str:
        """The scenario's name (``name`` key, else the file's stem)."""
        return self.spec.name

    @property
    def extends_chain(self) -> tuple[str, ...]:
        """The files this scenario inherits from through ``extends``: the one its own file names
        first, the outermost base last; empty when it extends nothing."""
        return self._chain

    @property
    def description(self) -> str:
        """One line saying what the scenario is."""
        return self.spec.description

    def as_dict(self) -> dict[str, Any]:
        """A deep copy of the table as written (after overrides)."""
        return copy.deepcopy(self._raw)

    def to_json(self) -> str:
        """The table as written, as JSON (dates as ISO strings)."""
        return json.dumps(self._raw, default=str, sort_keys=True)

    def __repr__(self) -> str:
        return f"Scenario({self.name!r}, source={self.source!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Scenario) and self.to_json() == other.to_json()

    def __hash__(self) -> int:
        return hash(self.to_json())

    # -- changes -------------------------------------------------------------------------
    def with_overrides(self, overrides: Mapping[str, Any] | Iterable[tuple[str, Any]]) -> Scenario:
        """A new scenario with dotted-path overrides applied, validated like the file.

        >>> s2 = s.with_overrides({"bank.pools.core.servers": 64, "run.horizon": "2d"})
        """
        items = overrides.items() if isinstance(overrides, Mapping) else overrides
        raw = copy.deepcopy(self._raw)
        for path, value in items:
            try:
                _override(raw, path, value)
            except ScenarioError as err:
                raise err.within("", file=self.source or "<scenario>") from None
        return Scenario(raw, self.source, self._chain)

    def typed_vary(self, vary: Mapping[str, Any], design: str) -> dict[str, Any]:
        """``vary`` with its ranges typed by the keys they vary (see :func:`typed_ranges`)."""
        try:
            return typed_ranges(self._raw, vary, design)
        except ScenarioError as err:
            raise err.within("", file=self.source or "<scenario>") from None


def _override(raw: dict[str, Any], path: str, value: Any) -> None:
    """Set ``value`` at dotted ``path`` in ``raw`` (in place), refusing to create entries."""
    before = _entities(raw)
    set_path(raw, path, value)
    added = sorted(_entities(raw) - before)
    if added:
        kind, name = added[0]
        raise ScenarioError(
            f"would create {kind} {name!r}; overrides never create a pool, product, "
            "journey, partner, limit or profile",
            path=path,
            value=value,
        )


def _accepts(base: Mapping[str, Any], path: str, value: Any) -> bool:
    """Whether the scenario ``base`` (a table as written) validates with ``value`` at ``path``."""
    trial = copy.deepcopy(dict(base))
    try:
        _override(trial, path, value)
        build(trial)
    except ScenarioError:
        return False
    return True


def takes_only_integers(base: Mapping[str, Any], path: str, near: float) -> bool:
    """Whether the schema takes only integers at ``path``: an integer next to ``near`` is
    accepted there and a fraction between it and the next is not (``servers``: yes; a rate:
    no). The schema itself answers, so no list of integer keys can fall out of step with it."""
    whole = math.floor(near)
    return _accepts(base, path, int(whole)) and not _accepts(base, path, whole + 0.5)


def typed_ranges(base: Mapping[str, Any], vary: Mapping[str, Any], design: str) -> dict[str, Any]:
    """``vary`` with each range of a sampling design typed by the key it varies.

    A range that does not say ``integer`` gets ``integer = true`` exactly where the schema takes
    only integers, whatever its bounds look like (``rate = 4:16`` stays real-valued, ``servers
    = 1:4`` is integer). ``integer = false`` on an integer key is refused; ``integer = true`` on
    a real-valued key is the user's choice and kept. Grids are returned as given.
    """
    out = dict(vary)
    if design == "grid":
        return out
    for path, spec in vary.items():
        r = ParameterRange.from_spec(path, spec, design)
        explicit = isinstance(spec, Mapping) and "integer" in spec
        if explicit and r.integer:
            continue
        integer = takes_only_integers(base, path, float(r.low))
        if explicit and integer:
            raise ScenarioError(
                "this key takes integers only: set integer = true or leave integer out",
                path=f"sweep.vary.{path}",
                value=dict(spec),
            )
        out[path] = {"low": r.low, "high": r.high, "integer": integer}
    return out


def _sweep_trials(vary: Mapping[str, Any], design: str) -> list[tuple[str, Any]]:
    """``(path, value)`` pairs that exercise every path of ``vary``: each value of a short grid
    list (the first and last of a long one), both ends of a range."""
    out: list[tuple[str, Any]] = []
    for path, values in vary.items():
        if design == "grid":
            listed = list(values)
            out += [(path, v) for v in (listed if len(listed) <= 8 else listed[:: len(listed) - 1])]
        else:
            r = ParameterRange.from_spec(path, values, design)
            out += [(path, r.value(r.low)), (path, r.value(r.high))]
    return out


def _check_sweep(raw: Mapping[str, Any], spec: Spec) -> None:
    """Every path that ``[sweep].vary`` varies names a key of this scenario that takes the
    values swept: each is set, as an override would be, and the result validated (ranges typed
    by their keys first, as :func:`typed_ranges` does for a sweep)."""
    if spec.sweep is None:
        return
    base = {k: v for k, v in raw.items() if k != "sweep"}
    vary = typed_ranges(base, spec.sweep.vary, spec.sweep.design)
    for path, value in _sweep_trials(vary, spec.sweep.design):
        trial = copy.deepcopy(base)
        try:
            _override(trial, path, value)
            build(trial)
        except ScenarioError as err:
            where = f"{err.path}: " if err.path else ""
            raise ScenarioError(
                f"cannot be set to {reprlib.repr(value)} ({where}{err.reason})",
                path=f"sweep.vary.{path}",
                value=spec.sweep.vary[path],
            ) from None


def _entities(raw: Mapping[str, Any]) -> set[tuple[str, str]]:
    """The named things a scenario defines (pools, products, journeys, partners, ...)."""
    out: set[tuple[str, str]] = set()

    def names(table: Any, kind: str) -> None:
        if isinstance(table, Mapping):
            out.update((kind, str(k)) for k in table)

    bank_raw = raw.get("bank")
    bank = bank_raw if isinstance(bank_raw, Mapping) else {}
    names(bank.get("pools"), "pool")
    names(bank.get("products"), "product")
    names(raw.get("journeys"), "journey")
    names(raw.get("profiles"), "profile")
    for key, kind in (("partners", "partner"), ("limits", "limit")):
        holder = raw if key == "partners" else raw.get("gateway")
        items = holder.get(key) if isinstance(holder, Mapping) else None
        if isinstance(items, list):
            out.update((kind, f"#{i}") for i in range(len(items)))
            if key == "partners":
                out.update((kind, str(p.get("name"))) for p in items if isinstance(p, Mapping))
    return out


def set_path(raw: dict[str, Any], path: str, value: Any) -> None:
    """Set ``value`` at dotted ``path`` in ``raw`` (in place) following the override rules."""
    if not isinstance(path, str) or not path or any(not part for part in path.split(".")):
        raise ScenarioError("is not a dotted key path", path=str(path))
    parts = path.split(".")
    if len(parts) > MAX_NESTING:
        raise ScenarioError(
            f"has {len(parts)} parts; no key of a scenario is nested deeper than {MAX_NESTING}",
            path=".".join(parts[: MAX_NESTING + 1]),
        )
    node: Any = raw
    walked: list[str] = []
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        here = ".".join([*walked, part])
        if isinstance(node, list):
            if not part.isdigit():
                raise ScenarioError(
                    f"{'.'.join(walked)} is an array: index it with a number", path=here
                )
            idx = int(part)
            if idx >= len(node):
                raise ScenarioError(
                    f"there is no element {idx}: {'.'.join(walked)} has {len(node)}", path=here
                )
            if last:
                node[idx] = value
                return
            node = node[idx]
        elif isinstance(node, dict):
            what = _NAMED_COLLECTIONS.get(tuple(walked))
            if what is not None and part not in node:
                raise ScenarioError(
                    f"there is no {what} named {part!r}; overrides never create one"
                    + did_you_mean(part, node),
                    path=here,
                )
            if last:
                node[part] = value
                return
            if part not in node:
                if tuple([*walked, part]) in _NAMED_COLLECTIONS or part in (
                    "partners",
                    "limits",
                    "steps",
                    "events",
                ):
                    raise ScenarioError(
                        "does not exist in this scenario; overrides never create entries", path=here
                    )
                node[part] = {}
            node = node[part]
        else:
            raise ScenarioError(f"{'.'.join(walked)} is a value, not a table", path=here)
        walked.append(part)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise ScenarioError("no such file", file=str(path)) from None
    except IsADirectoryError:
        raise ScenarioError("is a directory, not a scenario file", file=str(path)) from None
    if len(data) > MAX_FILE_BYTES:
        raise ScenarioError(
            f"is larger than {MAX_FILE_BYTES:,} bytes: a scenario file is hand-written text "
            "(the shipped ones are under 10 kB)",
            file=str(path),
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ScenarioError("not valid TOML: not UTF-8 text", file=str(path)) from None
    return toml_text.loads(text, file=str(path))


def resolve_path(name_or_path: str | Path) -> Path:
    """A scenario file from a path, or a shipped scenario's name (``"ecommerce"``)."""
    p = Path(name_or_path)
    if p.is_file():
        return p
    text = str(name_or_path)
    if "/" not in text and "\\" not in text:
        shipped = shipped_scenarios()
        if text.removesuffix(".toml") in shipped:
            return shipped[text.removesuffix(".toml")]
        if p.suffix != ".toml":
            raise ScenarioError(
                "no such file and no shipped scenario of that name (shipped: "
                + ", ".join(shipped)
                + ")"
                + did_you_mean(text, shipped),
                file=text,
            )
    if p.is_dir():
        raise ScenarioError("is a directory, not a scenario file", file=text)
    raise ScenarioError("no such file", file=text)


def _display(path: Path) -> str:
    """``path`` as shown in the inheritance chain: normalised, as relative as it was given."""
    return os.path.normpath(path)


def _within(path: Path, root: Path) -> bool:
    """Whether ``path``, links resolved, lies in the folder tree of ``root``."""
    real, top = os.path.realpath(path), os.path.realpath(root)
    return real == top or real.startswith(top.rstrip(os.sep) + os.sep)


def _resolve_base(target: object, here: Path, root: Path) -> Path:
    """The file that ``extends = target`` in the file ``here`` names.

    A path relative to ``here``'s directory wins when that file exists; otherwise a bare name
    (no directory part) is a shipped scenario, with or without ``.toml``. A path must stay in
    the folder tree of ``root`` (links resolved): an absolute path, or one that climbs out of
    the tree, is refused before anything outside is looked at.
    """

    def bad(reason: str) -> ScenarioError:
        return ScenarioError(reason, path=_EXTENDS, value=target, file=str(here))

    if not isinstance(target, str):
        raise bad(
            f"must be a string (a shipped scenario's name or a path relative to this file), "
            f"not {type(target).__name__}"
        )
    if not target.strip():
        raise bad("must name a shipped scenario or a file relative to this one, not be empty")
    if "\0" in target:
        raise bad("is not a path: it holds a NUL character")
    if os.path.isabs(target):
        raise bad(
            "must be a shipped scenario's name or a path relative to this file, not an "
            "absolute path: a scenario reads files only inside its own folder tree "
            f"({_display(root)})"
        )
    candidate = here.parent / target
    if not _within(candidate, root):
        raise bad(
            f"{_display(candidate)} is outside this scenario's folder tree ({_display(root)}); "
            "extends reads only files inside the folder of the scenario that was loaded (or a "
            "shipped scenario by name)"
        )
    if candidate.is_file():
        return candidate
    if candidate.is_dir():
        raise bad(f"{_display(candidate)} is a directory, not a scenario file")
    shipped = shipped_scenarios()
    bare = "/" not in target and "\\" not in target
    if bare and target.removesuffix(".toml") in shipped:
        return shipped[target.removesuffix(".toml")]
    folder = candidate.parent
    # files next to where the target would be (none when that folder does not exist)
    nearby = [
        f.name
        for f in sorted(folder.glob("*.toml"))
        if os.path.realpath(f) != os.path.realpath(here)
    ]
    close = get_close_matches(Path(target).name, nearby, n=1, cutoff=0.6)
    hint = f" (did you mean {str(Path(target).with_name(close[0]))!r}?)" if close else ""
    if bare and not hint:
        hint = did_you_mean(target.removesuffix(".toml"), shipped)
    listed = f" and no shipped scenario of that name (shipped: {', '.join(shipped)})"
    raise bad(f"no such file as {_display(candidate)}{listed if bare else ''}{hint}")


def _cycle_text(files: list[Path]) -> str:
    """``a.toml -> b.toml -> a.toml``: file names, or whole paths when two names clash."""
    names = [p.name for p in files]
    distinct = {os.path.realpath(p) for p in files}
    if len(set(names)) < len(distinct):
        names = [_display(p) for p in files]
    return " -> ".join(names)


def _merge(base: Mapping[str, Any], child: Mapping[str, Any]) -> dict[str, Any]:
    """``child`` laid over ``base``: tables merge key by key (recursively); arrays, scalars and
    distributions (tables with a ``dist`` key) in ``child`` replace ``base``'s value whole."""
    out = copy.deepcopy(dict(base))
    for key, value in child.items():
        old = out.get(key)
        if isinstance(value, dict) and isinstance(old, dict) and "dist" not in value:
            out[key] = _merge(old, value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _read_with_bases(
    path: Path, root: str | Path | None = None
) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The table of the file ``path`` merged over its ``extends`` chain, without ``extends``,
    and the chain of base files (the nearest first). Bases are read only from the folder tree
    of ``root`` (default: ``path``'s folder); a shipped scenario's own bases only from the
    shipped folder."""
    files = [path]
    tables = [_read_toml(path)]
    seen = {os.path.realpath(path)}
    tree = Path(root) if root is not None else path.parent
    shipped_dir = _shipped_dir()
    while _EXTENDS in tables[-1]:
        here = files[-1]
        target = tables[-1][_EXTENDS]
        base_path = _resolve_base(target, here, shipped_dir if _within(here, shipped_dir) else tree)
        if os.path.realpath(base_path) in seen:
            raise ScenarioError(
                f"inheritance cycle: {_cycle_text([*files, base_path])}",
                path=_EXTENDS,
                value=target,
                file=str(here),
            )
        seen.add(os.path.realpath(base_path))
        files.append(base_path)
        tables.append(_read_toml(base_path))
    merged: dict[str, Any] = {}
    for table in reversed(tables[1:]):
        merged = _merge(merged, {k: v for k, v in table.items() if k not in (_EXTENDS, "name")})
    merged = _merge(merged, {k: v for k, v in tables[0].items() if k != _EXTENDS})
    return merged, tuple(_display(p) for p in files[1:])


def load_scenario(
    name_or_path: str | Path,
    overrides: Mapping[str, Any] | None = None,
    *,
    root: str | Path | None = None,
) -> Scenario:
    """Load and validate a scenario file (or a shipped scenario by name), then apply overrides.

    Inheritance: a file may say ``extends = "ecommerce"`` (a shipped scenario's name) or
    ``extends = "base.toml"`` / ``"common/base.toml"`` (a path relative to the directory of
    the file that says it; a file there wins over a shipped name). Paths stay inside the
    scenario's folder tree: the folder of the file loaded here and everything below it, or the
    folder ``root`` when given (so that ``"../common/base.toml"`` can reach a sibling folder
    under it); an absolute path, or one that climbs out of the tree (links resolved), is a
    :class:`ScenarioError` at ``extends``. A file is data: it is parsed by ``tomllib`` and
    nothing in it is evaluated. The base is loaded first
    (bases may extend others in turn), then this file is merged over it: tables merge key by key,
    recursively; arrays (``[[partners]]``, ``[[gateway.limits]]``, journey ``steps``, ...),
    scalars and distributions (inline tables with ``dist``) replace the base's value whole. The
    merged table, without ``extends``, is validated once; its errors name this file. ``name`` is
    never inherited: it is this file's ``name`` if set, else this file's stem. A base that is
    missing, an ``extends`` that is not a string, or a cycle is an error at path ``extends`` of
    the file that says it. Overrides apply to the merged table; :attr:`Scenario.extends_chain`
    lists the base files.
    """
    path = resolve_path(name_or_path)
    if root is not None and not _within(path, Path(root)):
        raise ScenarioError(
            f"is outside the folder tree given as root ({_display(Path(root))})", file=str(path)
        )
    raw, chain = _read_with_bases(path, root)
    scenario = Scenario(raw, path, chain)
    return scenario.with_overrides(overrides) if overrides else scenario
