import re
import shutil
import subprocess

import pytest

import report
from memory.runs import RunDir

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def headless(path):
    """Load a page in headless Chromium; returns (dom, console errors)."""
    done = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr",
                           "--v=0", "--dump-dom", f"file://{path}"], capture_output=True, text=True, timeout=120)
    errors = [line for line in done.stderr.splitlines() if "CONSOLE" in line and ("Uncaught" in line or "rror" in line)]
    return done.stdout, errors


def test_report_is_self_contained(recorded_run, tmp_path):
    html = report.build(recorded_run)
    assert "<svg" in html and "best so far" in html
    # nothing to fetch: no external src/href, no remote stylesheet or script
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "@import" not in html
    for needed in ("Token use per role", "designer", "Evaluations", recorded_run.result()["best"]["arch"]):
        assert needed in html
    assert "<h2>Archives</h2>" not in html  # GENIUS has no archive heatmaps


def test_report_inlines_archive_heatmaps(recorded_run, tmp_path):
    copy = RunDir(tmp_path / recorded_run.id)
    shutil.copytree(recorded_run.path, copy.path)
    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 16
    (copy.path / "network_archive.png").write_bytes(png)
    out = report.write(copy, tmp_path / "r.html")
    html = out.read_text()
    assert "<h2>Archives</h2>" in html and "data:image/png;base64,iVBORw0KGgo" in html


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install -y chromium)")
def test_report_renders_in_headless_chromium_without_console_errors(recorded_run, tmp_path):
    path = report.write(recorded_run, tmp_path / "report.html")
    dom, errors = headless(path)
    assert "Token use per role" in dom and "<svg" in dom
    assert errors == []
    # the check can fail: a page with a script error is caught
    broken = tmp_path / "broken.html"
    broken.write_text("<!doctype html><html><body><script>undefinedFunction()</script></body></html>")
    assert headless(broken)[1]
