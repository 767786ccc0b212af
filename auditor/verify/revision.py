"""What a review revision changed, compared with the revision before it.

A review may change only its own slot's terminal fields, and in them only what filling and
signing change: a text field's value and appearance, the checkbox's value and state, the
signature field's value (the signature) and appearance. A slot's page-1 line (`review{N}.outcome`)
is one of its terminal fields: slot N's revision writes it, no other slot's may. Everything else it changes is foreign:
another slot's fields, a parent field's `/V` or `/DA`, a field's flags, font or lock, the form's
`/DR` fonts (which draw every later review), `/DA`, `/NeedAppearances` or `/SigFlags`, and the
catalog (`/Version`, `/MarkInfo`, …). pyHanko's diff analysis has already rated the revision at
most form filling; this is the stricter rule a review form needs. Objects are compared by content,
references followed (bounded), so redefining an object under an unchanged reference shows too.
"""

from __future__ import annotations

import hashlib

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader

MAX_FIELDS = 512  # field nodes read per revision; a form has ~20
MAX_DEPTH = 8  # of the field tree
MAX_NODES = 4096  # PDF objects visited by one digest
_NOT_FIELD_STATE = frozenset({"/Parent", "/P", "/Kids"})
_FILLED_BY_KIND = {"/Tx": {"/V", "/AP"}, "/Btn": {"/V", "/AS"}, "/Sig": {"/V", "/AP"}}
_CATALOG_SKIPPED = frozenset({"/AcroForm", "/Pages", "/Metadata", "/DSS"})  # the form here; pages, DSS: pyHanko; XMP: pdf_metadata


def field_nodes(reader: PdfFileReader, revision: int) -> dict[str, tuple[bool, generic.DictionaryObject]]:
    """Every field node of `revision` (parents included) by full name: (terminal?, dictionary)."""
    root = reader.get_historical_root(revision)
    try:
        top = root["/AcroForm"]["/Fields"]
    except (KeyError, TypeError):
        return {}
    found: dict[str, tuple[bool, generic.DictionaryObject]] = {}
    stack = [(ref, "", 0) for ref in reversed(list(top)[:MAX_FIELDS])]
    while stack and len(found) < MAX_FIELDS:
        ref, prefix, depth = stack.pop()
        node = ref.get_object()
        if not isinstance(node, generic.DictionaryObject):
            continue
        name = ".".join(p for p in (prefix, str(node.get("/T", ""))) if p)
        kids = node.get("/Kids")
        children = list(kids)[:MAX_FIELDS] if isinstance(kids, generic.ArrayObject) else []
        parent = any("/T" in kid.get_object() for kid in children)
        found.setdefault(name, (not parent, node))
        if parent and depth < MAX_DEPTH:
            stack += [(kid, name, depth + 1) for kid in reversed(children)]
    return found


def fields_at(reader: PdfFileReader, revision: int) -> dict[str, generic.DictionaryObject]:
    """Every terminal form field of `revision` by full name."""
    return {name: node for name, (terminal, node) in field_nodes(reader, revision).items() if terminal}


def changed_fields(reader: PdfFileReader, before: int, after: int) -> list[str]:
    """Full names of the field nodes added, removed or changed between two revisions."""
    old, new = field_nodes(reader, before), field_nodes(reader, after)
    return sorted(name for name in old.keys() | new.keys() if _changed_keys(old.get(name), new.get(name)))


def foreign_changes(reader: PdfFileReader, before: int, after: int, own_prefix: str) -> list[str]:
    """What the revisions from `before` to `after` changed beyond filling the terminal fields whose
    names start with `own_prefix` (e.g. "review1."): field names, or form and catalog entries."""
    old, new = field_nodes(reader, before), field_nodes(reader, after)
    foreign = []
    for name in sorted(old.keys() | new.keys()):
        changed = _changed_keys(old.get(name), new.get(name))
        if not changed:
            continue
        terminal, node = new.get(name) or old[name]
        allowed = _FILLED_BY_KIND.get(str(node.get("/FT")), set()) if terminal and name.startswith(own_prefix) else set()
        if name not in old or name not in new or not changed <= allowed:
            foreign.append(name if name in old and name in new else f"{name} (added or removed)")
    roots = reader.get_historical_root(before), reader.get_historical_root(after)
    foreign += [f"/AcroForm {key}" for key in _changed_entries(*(_form(r) for r in roots), skipped={"/Fields"})]
    foreign += [f"catalog {key}" for key in _changed_entries(*roots, skipped=_CATALOG_SKIPPED, deep=False)]
    return foreign


def _changed_keys(
    old: tuple[bool, generic.DictionaryObject] | None, new: tuple[bool, generic.DictionaryObject] | None
) -> set[str]:
    if old is None or new is None:
        return {"(node)"}
    return _changed_entries(old[1], new[1], skipped=_NOT_FIELD_STATE)


def _form(root: generic.DictionaryObject) -> generic.DictionaryObject:
    form = root.get("/AcroForm")
    form = form.get_object() if form is not None else None
    if not isinstance(form, generic.DictionaryObject):
        return generic.DictionaryObject()
    normalised = generic.DictionaryObject(dict(form))
    if str(normalised.get("/NeedAppearances", "")).lower() == "false":  # absent means false
        del normalised["/NeedAppearances"]
    return normalised


def _changed_entries(
    old: generic.DictionaryObject, new: generic.DictionaryObject, *, skipped: frozenset[str] | set[str], deep: bool = True
) -> set[str]:
    keys = (set(old) | set(new)) - set(skipped)
    if deep:
        return {k for k in keys if k not in old or k not in new or digest(old.raw_get(k)) != digest(new.raw_get(k))}
    return {k for k in keys if k not in old or k not in new or str(old.raw_get(k)) != str(new.raw_get(k))}


def digest(value: generic.PdfObject) -> str:
    """SHA-256 of what a PDF value says, indirect objects followed (bounded), streams by their bytes."""
    hasher = hashlib.sha256()
    seen: set[tuple[int, int]] = set()
    stack: list[generic.PdfObject] = [value]
    visited = 0
    while stack and visited < MAX_NODES:
        item = stack.pop()
        visited += 1
        if isinstance(item, generic.IndirectObject):
            key = (item.idnum, item.generation)
            hasher.update(f"ref{key}".encode())
            if key not in seen:
                seen.add(key)
                stack.append(item.get_object())
        elif isinstance(item, generic.StreamObject):
            hasher.update(b"stream" + hashlib.sha256(item.encoded_data).digest())
            stack += _dictionary_items(item, hasher)
        elif isinstance(item, generic.DictionaryObject):
            stack += _dictionary_items(item, hasher)
        elif isinstance(item, generic.ArrayObject):
            hasher.update(f"array{len(item)}".encode())
            stack += reversed(list(item))
        else:
            hasher.update(repr(item).encode())
    if stack:
        hasher.update(b"(too large to follow)")
    return hasher.hexdigest()


def _dictionary_items(item: generic.DictionaryObject, hasher: hashlib._Hash) -> list[generic.PdfObject]:
    keys = sorted(item)
    hasher.update(f"dict{keys}".encode())
    return [item.raw_get(k) for k in reversed(keys)]
