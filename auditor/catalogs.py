"""Maintain the message catalogs: extract the template, update and check each language.

    python -m auditor.catalogs extract        # auditor.pot from the sources (babel.cfg)
    python -m auditor.catalogs init CODE      # a new, empty <CODE>/LC_MESSAGES/auditor.po
    python -m auditor.catalogs update [CODE]  # merge the .pot into each (or one) .po
    python -m auditor.catalogs check [--complete]

Files are written without source locations, sorted, with a fixed header, so a diff shows only
changed messages. `check` exits 1 when a catalog does not parse, does not compile, or a
translation's placeholders differ from its msgid's (Babel's checkers); with `--complete` also when a
message of the .pot is untranslated or fuzzy in a language.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

from auditor.i18n import DOMAIN, LOCALE_DIR, SOURCE_LANGUAGE, available, catalog_path

ROOT = Path(__file__).parents[1]
TEMPLATE = LOCALE_DIR / f"{DOMAIN}.pot"
FIXED_DATE = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
HEADER = "# Messages of auditor's reports. Made by `python -m auditor.catalogs extract`: do not edit.\n#"
COMMENT_TAGS = ("TRANSLATORS:", "Translators:")


def extract(root: Path = ROOT) -> Catalog:
    """Every marked message of the Python sources and templates named in `babel.cfg`."""
    with (root / "babel.cfg").open(encoding="utf-8") as file:
        method_map, options_map = parse_mapping_cfg(file)
    catalog = Catalog(domain=DOMAIN, project="auditor", version="1", msgid_bugs_address="", header_comment=HEADER,
                      creation_date=FIXED_DATE,
                      revision_date=FIXED_DATE, fuzzy=False)
    found = extract_from_dir(str(root), method_map, options_map, comment_tags=COMMENT_TAGS, strip_comment_tags=True)
    for filename, lineno, message, comments, context in found:
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return catalog


def write(catalog: Catalog, path: Path) -> None:
    """`catalog` to `path`, sorted, without locations (atomically)."""
    buffer = io.BytesIO()
    write_po(buffer, catalog, width=100, no_location=True, sort_output=True, ignore_obsolete=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(path.suffix + ".tmp")
    temporary.write_bytes(buffer.getvalue())
    temporary.replace(path)


def read(path: Path) -> Catalog:
    with path.open("rb") as file:
        return read_po(file, domain=DOMAIN)


def init(code: str) -> Path:
    """A new catalog for `code`, every message untranslated."""
    path = catalog_path(code)
    if path.exists():
        raise SystemExit(f"{path} exists; use update")
    catalog = read(TEMPLATE)
    catalog.locale = code
    catalog.revision_date = FIXED_DATE
    catalog.header_comment = f"# auditor's reports in {code}. Update with `python -m auditor.catalogs update {code}`.\n#"
    write(catalog, path)
    return path


def update(codes: Sequence[str]) -> None:
    """Merge the template into the catalogs of `codes`: new messages in, gone ones out."""
    template = read(TEMPLATE)
    for code in codes:
        catalog = read(catalog_path(code))
        catalog.update(template, update_creation_date=False)
        write(catalog, catalog_path(code))


def problems(path: Path, template: Catalog | None = None) -> Iterator[str]:
    """What is wrong with the catalog at `path`; with `template`, also what it leaves untranslated."""
    try:
        catalog = read(path)
        write_mo(io.BytesIO(), catalog)
    except Exception as exc:
        yield f"{path}: does not compile: {exc}"
        return
    for message, errors in catalog.check():
        for error in errors:
            yield f"{path}: {message.id!r}: {error}"
    if template is None:
        return
    for message in template:
        if not message.id:
            continue
        ours = catalog.get(message.id, message.context)
        if ours is None or not ours.string or (isinstance(ours.string, tuple) and not all(ours.string)):
            yield f"{path}: {message.id!r}: not translated"
        elif ours.fuzzy:
            yield f"{path}: {message.id!r}: fuzzy"


def check(complete: bool = False) -> list[str]:
    """Every problem of every shipped catalog (and the English one, when there is one)."""
    template = read(TEMPLATE) if complete else None
    found: list[str] = []
    for code in available():
        path = catalog_path(code)
        if path.is_file():
            found += problems(path, None if code == SOURCE_LANGUAGE else template)
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m auditor.catalogs", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("extract")
    commands.add_parser("init").add_argument("code")
    commands.add_parser("update").add_argument("code", nargs="*")
    commands.add_parser("check").add_argument("--complete", action="store_true")
    args = parser.parse_args(argv)
    if args.command == "extract":
        write(extract(), TEMPLATE)
    elif args.command == "init":
        print(init(args.code))
    elif args.command == "update":
        update(args.code or [c for c in available() if catalog_path(c).is_file()])
    else:
        found = check(args.complete)
        print("\n".join(found) or "catalogs: ok")
        return 1 if found else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
