"""``vulnpipe evidence build|verify|keygen``: auditor evidence packs."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from vulnpipe import console, workflows
from vulnpipe.commands.common import (
    ConfigOpt,
    DbOpt,
    InventoryOpt,
    ProfileOpt,
    ProfilesFileOpt,
    SheetOpt,
    load_config,
    notify,
    parse_when,
    pick_db,
    pick_profile,
)
from vulnpipe.ingest.errors import InputError

evidence_app = typer.Typer(help="Auditor evidence packs: build, verify, sign.", no_args_is_help=True)


#: The period a pack or POA&M covers: --from/--to, or --quarter.
FromOpt = typer.Option(None, "--from", metavar="DATE", help="First day of the period (YYYY-MM-DD).")
ToOpt = typer.Option(None, "--to", metavar="DATE", help="Last day of the period (inclusive).")
QuarterOpt = typer.Option(None, "--quarter", metavar="QUARTER", help="A calendar quarter, e.g. 2026-Q4.")


def _period(date_from: Optional[str], date_to: Optional[str], quarter: Optional[str]):
    return workflows.evidence_period(parse_when(date_from, what="--from"),
                                     parse_when(date_to, end_of_day=True, what="--to"), quarter,
                                     f"{date_from or 'beginning'}..{date_to or 'latest'}")


@evidence_app.command("build")
def build(
    out: Path = typer.Option(..., "--out", "-o", help="The pack to write (PACK.zip)."),
    db: Optional[str] = DbOpt,
    profile: Optional[str] = ProfileOpt,
    profiles_file: Optional[List[Path]] = ProfilesFileOpt,
    date_from: Optional[str] = FromOpt,
    date_to: Optional[str] = ToOpt,
    quarter: Optional[str] = QuarterOpt,
    ticket: Optional[List[str]] = typer.Option(None, "--ticket", metavar="KEY",
                                               help="Only this ticket (repeatable)."),
    include_raw: bool = typer.Option(False, "--include-raw", help="Include the original .nessus files "
                                     "(found in --raw-dir by SHA-256)."),
    raw_dir: Optional[Path] = typer.Option(None, "--raw-dir", help="Where the original scan files are."),
    generated_at: Optional[str] = typer.Option(None, "--generated-at", metavar="DATE",
                                               help="A date-time to record as the pack's "
                                                    "creation time (nothing else is stamped)."),
    sign_key: Optional[Path] = typer.Option(None, "--sign-key", help="Ed25519 private key (PEM) to "
                                            "sign manifest.json with."),
    inventory: Optional[Path] = InventoryOpt,
    sheet: Optional[str] = SheetOpt,
    config: Optional[Path] = ConfigOpt,
    knowledge: Optional[List[Path]] = typer.Option(
        None, "--knowledge", help="Folder of extra/overriding remediation TOML files (repeatable)."),
) -> None:
    """Build a reproducible, tamper-evident evidence pack (zip) from the history database:
    tickets with before/after proof, scans with their coverage, POA&M and workbooks.

    The database is only read. The same database state gives a byte-identical pack. Prints
    the SHA-256 of its manifest.json, the pack's fingerprint for the auditor to record.


    Example: vulnpipe evidence build --quarter 2026-Q4 --out evidence-2026-Q4.zip
    """
    if include_raw and raw_dir is None:
        raise InputError("--include-raw needs --raw-dir DIR (the store keeps only the files' SHA-256)",
                         hint="give the folder holding the original .nessus files")
    if raw_dir is not None and not include_raw:
        raise InputError("--raw-dir is used only with --include-raw")
    period = _period(date_from, date_to, quarter)
    cfg = load_config(config)
    prof = pick_profile(profile, None, profiles_file, cfg)
    inv = workflows.load_inventory_for(cfg, inventory, sheet, notify=notify)
    engine = workflows.open_store(pick_db(db, cfg), create=False)
    try:
        summary = workflows.build_evidence(
            engine, out, profile=prof, period=period, tickets=ticket or (),
            generated_at=parse_when(generated_at, what="--generated-at"), raw_dir=raw_dir,
            sign_key=sign_key, inventory=inv, settings=workflows.ticket_settings(cfg),
            knowledge_dirs=(*cfg.tickets.knowledge_dirs, *(knowledge or ())), notify=notify,
            cfg=cfg)
    finally:
        engine.dispose()
    states = workflows.states_text(summary.states)
    print(f"manifest.json SHA-256 {summary.manifest_sha256}")
    console.info(f"wrote {summary.path}: {summary.files} files, {summary.size} bytes; "
                 f"{summary.tickets} ticket(s) ({states}), {summary.scans} scan(s)"
                 + (f", {summary.originals} original(s)" if summary.originals else "")
                 + (", signed" if summary.signed else "")
                 + "; the manifest's SHA-256 above is the pack's fingerprint: record it "
                   "(`vulnpipe evidence verify PACK --manifest-sha256 HEX` checks it)")


@evidence_app.command("poam")
def poam(
    out: Path = typer.Option(..., "--out", "-o", help="The POA&M workbook to write (FILE.xlsx)."),
    db: Optional[str] = DbOpt,
    profile: Optional[str] = ProfileOpt,
    profiles_file: Optional[List[Path]] = ProfilesFileOpt,
    date_from: Optional[str] = FromOpt,
    date_to: Optional[str] = ToOpt,
    quarter: Optional[str] = QuarterOpt,
    inventory: Optional[Path] = InventoryOpt,
    sheet: Optional[str] = SheetOpt,
    config: Optional[Path] = ConfigOpt,
) -> None:
    """Write the FedRAMP POA&M workbook alone (the evidence pack's poam.xlsx): the template's
    31 columns in its order, the header block from [poam] in vulnpipe.toml. Each new item's
    Scheduled Completion Date is stored the first time and never changes.


    Example: vulnpipe evidence poam --quarter 2026-Q4 --out poam-2026-Q4.xlsx
    """
    if out.suffix.lower() != ".xlsx":
        raise InputError(f"--out {out.name!r} is not an .xlsx file", hint="e.g. --out poam.xlsx")
    period = _period(date_from, date_to, quarter)
    cfg = load_config(config)
    prof = pick_profile(profile, None, profiles_file, cfg)
    inv = workflows.load_inventory_for(cfg, inventory, sheet, notify=notify)
    engine = workflows.open_store(pick_db(db, cfg), create=False)
    try:
        opened, closed = workflows.write_poam(
            engine, out, profile=prof, period=period, inventory=inv,
            settings=workflows.ticket_settings(cfg), knowledge_dirs=cfg.tickets.knowledge_dirs,
            cfg=cfg)
    finally:
        engine.dispose()
    console.info(f"wrote {out}: {opened} open and {closed} closed POA&M item(s)")


@evidence_app.command("verify")
def verify(
    pack: Path = typer.Argument(..., help="The pack (zip) to check."),
    pub_key: Optional[Path] = typer.Option(None, "--pub-key", help="Ed25519 public key (PEM) "
                                           "to check manifest.json.sig with."),
    manifest_sha256: Optional[str] = typer.Option(
        None, "--manifest-sha256", metavar="HEX",
        help="The fingerprint `evidence build` printed: manifest.json must have this SHA-256."),
) -> None:
    """Recompute every hash against manifest.json; print each missing, extra or altered
    file (one line each). Exit 0 only when the pack is intact. Nothing is extracted.

    The hashes prove the files match manifest.json. That manifest.json is the one built
    needs the signature (--pub-key) or the fingerprint recorded at build (--manifest-sha256).
    Reads nothing else: no database, no config (so no --config).


    Example: vulnpipe evidence verify q4.zip --pub-key keys/signing.pub
    """
    result = workflows.verify_evidence(pack, pub_key, manifest_sha256)
    for p in result.problems:
        console.out(p.line())
    if result.intact:
        console.info(workflows.describe_verification(result, pack))
        return
    console.error(workflows.describe_verification(result, pack))
    raise typer.Exit(1)


@evidence_app.command("keygen")
def keygen(
    out: Path = typer.Option(..., "--out", "-o", help="Folder for the new key pair."),
) -> None:
    """Create an Ed25519 key pair for signing packs: evidence-signing.pem (private, keep it
    secret) and evidence-signing.pub (give it to auditors).


    Example: vulnpipe evidence keygen --out keys/
    """
    private, public = workflows.evidence_keygen(out)
    console.info(f"wrote {private} (private: keep it secret) and {public} (public)")
