"""Optional PDF through LibreOffice: used when `soffice` is installed, skipped (with a reason) otherwise."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path


class PdfUnavailable(Exception):
    """No PDF this time; the message says why (LibreOffice missing, conversion failed or timed out)."""


def soffice() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


def to_pdf(docx: Path, out_dir: Path | None = None, *, timeout: float = 120) -> Path:
    """Convert with a private LibreOffice profile, so a desktop session or a parallel run cannot block it."""
    exe = soffice()
    if exe is None:
        raise PdfUnavailable("LibreOffice (soffice) is not installed")
    out_dir = out_dir or docx.parent
    with tempfile.TemporaryDirectory(prefix="rectify-lo-") as profile:
        cmd = [exe, f"-env:UserInstallation=file://{profile}", "--headless", "--norestore", "--nolockcheck",
               "--convert-to", "pdf", "--outdir", str(out_dir), str(docx)]
        # Its own process group: on timeout the whole LibreOffice tree (oosplash, soffice.bin) goes.
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                start_new_session=True)
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise PdfUnavailable(f"LibreOffice did not finish within {timeout:.0f} s") from None
    pdf = out_dir / (docx.stem + ".pdf")
    if proc.returncode != 0 or not pdf.exists():
        detail = (stderr or stdout).strip().splitlines()[-1:] or ["no output"]
        raise PdfUnavailable(f"LibreOffice could not convert {docx.name}: {detail[0]}")
    return pdf
