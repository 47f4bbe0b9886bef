"""The pictures in README.md and docs/: the sample week's report as a 1024 px wide browser
shows it, and the first printed page of the tickets and weekly workbooks as LibreOffice
prints them (A4 landscape). Run ``make pictures`` (it runs ``make demo`` first, then this).

Needs Chromium, LibreOffice (``soffice``) and poppler (``pdftoppm``).
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "out"
IMG = Path(__file__).resolve().parent
BOOKS = {"tickets.xlsx": "tickets-workbook", "weekly-2026-W48.xlsx": "weekly-workbook"}
REPORT = ("weekly-2026-W48.html", "weekly-report")


def run(*args: str | Path) -> None:
    subprocess.run([str(a) for a in args], check=True, capture_output=True, timeout=300)


def main() -> int:
    chromium = next(filter(None, map(shutil.which, ("chromium", "chromium-browser",
                                                    "google-chrome"))), None)
    missing = [name for name, path in (("chromium", chromium), ("soffice", shutil.which("soffice")),
                                       ("pdftoppm", shutil.which("pdftoppm"))) if path is None]
    if missing:
        sys.exit(f"make_pictures: {', '.join(missing)} not found")
    with tempfile.TemporaryDirectory(prefix="vulnpipe-pictures-") as tmp:
        run("soffice", f"-env:UserInstallation=file://{tmp}/lo", "--headless", "--norestore",
            "--convert-to", "pdf", "--outdir", tmp, *(OUT / book for book in BOOKS))
        for book, picture in BOOKS.items():
            run("pdftoppm", "-png", "-r", "110", "-f", "1", "-l", "1", "-singlefile",
                Path(tmp) / (Path(book).stem + ".pdf"), IMG / picture)
        page, picture = REPORT
        run(chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
            f"--user-data-dir={tmp}/chromium", "--window-size=1024,1400",
            f"--screenshot={IMG / (picture + '.png')}", (OUT / page).as_uri())
    for picture in (*BOOKS.values(), REPORT[1]):
        print(f"wrote docs/img/{picture}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
