"""The widget notebooks in a real browser: JupyterLab (started here, on 127.0.0.1) driven by
Playwright through Debian's chromium. Each test opens a notebook, runs every cell
(``notebook:run-all-cells``) and checks in the DOM that the widgets / views rendered and react.

Needs ``playwright`` (the Python package; no ``playwright install``: the system chromium is
used), ``jupyterlab`` and ``apt-get install chromium fonts-dejavu-core``; skipped otherwise.
Screenshots go to ``artifacts/browser/`` (gitignored), or to the folder named by
``ROBERTA_LAB_SCREENSHOTS``; CI keeps no artifacts here, so a run's pictures are committed in
``notebooks/screenshots/`` (its README says which run made them).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
ARTIFACTS = Path(os.environ.get("ROBERTA_LAB_SCREENSHOTS") or ROOT / "artifacts" / "browser")
WAIT_MS = 120_000  # every wait; the CI machine has 2 slow cores
CHROMIUM_CANDIDATES = (os.environ.get("CHROMIUM_PATH", ""), "/usr/lib/chromium/chromium",
                       "/usr/bin/chromium", "/usr/bin/chromium-browser")
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
OVERRIDES = Path(sys.prefix) / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
TRACKER = "@jupyterlab/notebook-extension:tracker"
NOTIFICATIONS = "@jupyterlab/apputils-extension:notification"

playwright_sync = pytest.importorskip("playwright.sync_api",
                                      reason="playwright (Python package) is not installed")
pytest.importorskip("jupyterlab", reason="jupyterlab is not installed")
CHROMIUM = next((p for p in CHROMIUM_CANDIDATES if p and os.access(p, os.X_OK)), None)
pytestmark = [
    pytest.mark.skipif(CHROMIUM is None, reason="no chromium executable (apt-get install "
                       "chromium fonts-dejavu-core, or set CHROMIUM_PATH)"),
    pytest.mark.skipif(not (ROOT / "data" / "mini-mlm" / "config.json").is_file(),
                       reason="the bundled model data/mini-mlm is missing"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _copy_notebooks(dest: Path) -> None:
    """The notebooks without outputs or saved widget state, so whatever renders was drawn by
    this run's kernel."""
    import nbformat

    dest.mkdir(parents=True)
    (dest / "course").mkdir()
    for path in (sorted(NOTEBOOKS.glob("*.ipynb"))
                 + sorted((NOTEBOOKS / "course" / "solutions").glob("*.ipynb"))):
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
        nb.metadata.pop("widgets", None)
        nbformat.write(nb, dest / ("course" if path.parent.name == "solutions" else "")
                       / path.name)


@pytest.fixture(scope="module")
def windowing_none():
    """JupyterLab 4 virtualises notebook cells (off-screen outputs are not in the DOM);
    ``windowingMode: none`` renders them all. Set through the app-wide overrides.json (merged
    into an existing one) and restored afterwards; the news toast is turned off there too."""
    before = OVERRIDES.read_text() if OVERRIDES.is_file() else None
    data = json.loads(before) if before else {}
    data.setdefault(TRACKER, {})["windowingMode"] = "none"
    # no "Would you like to get notified about Jupyter news?" toast over the screenshots
    data.setdefault(NOTIFICATIONS, {}).update({"fetchNews": "false", "checkForUpdates": False})
    OVERRIDES.parent.mkdir(parents=True, exist_ok=True)
    OVERRIDES.write_text(json.dumps(data, indent=2))
    yield
    if before is None:
        OVERRIDES.unlink(missing_ok=True)
    else:
        OVERRIDES.write_text(before)


@pytest.fixture(scope="module")
def lab(tmp_path_factory, windowing_none):
    """(base_url, token) of a JupyterLab server on a temporary copy of notebooks/."""
    tmp = tmp_path_factory.mktemp("lab")
    root = tmp / "notebooks"
    _copy_notebooks(root)
    port, token = _free_port(), uuid.uuid4().hex
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", HF_HUB_OFFLINE="1", CUDA_VISIBLE_DEVICES="",
               JUPYTER_RUNTIME_DIR=str(tmp / "runtime"),
               PYTHONPATH=os.pathsep.join([str(ROOT)] + [p for p in
                                                         [os.environ.get("PYTHONPATH")] if p]))
    for var in ("ROBERTA_LAB_MODEL", "ROBERTA_LAB_CAUSAL_MODEL", "ROBERTA_LAB_SEQ2SEQ_MODEL"):
        env.pop(var, None)
    cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root",
           "--ip=127.0.0.1", f"--port={port}", "--ServerApp.port_retries=0",
           f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
           f"--LabApp.workspaces_dir={tmp / 'workspaces'}",
           "--LabApp.expose_app_in_browser=True", "--LabApp.news_url=",
           "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    log = open(tmp / "server.log", "wb")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=root)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + WAIT_MS / 1000
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail(f"jupyter lab exited with {proc.returncode}:\n"
                            f"{(tmp / 'server.log').read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=5) as r:
                    if r.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                pytest.fail("jupyter lab did not answer within 120 s")
            time.sleep(0.5)
        yield base, token
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(tmp / "server.log", ARTIFACTS / "jupyter-server.log")


@pytest.fixture(scope="module")
def browser():
    with playwright_sync.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    pg.set_default_timeout(WAIT_MS)
    yield pg
    context.close()


ALL_RUN = """() => {
  const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  if (!panel || !panel.content || !panel.sessionContext) return false;
  const prompts = [...panel.node.querySelectorAll('.jp-CodeCell .jp-InputPrompt')];
  const status = panel.sessionContext.session && panel.sessionContext.session.kernel
                 && panel.sessionContext.session.kernel.status;
  return prompts.length > 0 && prompts.every(e => /\\[\\d+\\]/.test(e.textContent))
         && status === 'idle';
}"""


def run_notebook(page, lab, name: str) -> float:
    """Open ``name``, wait for an idle kernel, run all cells, wait until every cell ran.
    Returns the seconds the run took."""
    base, token = lab
    page.goto(f"{base}/lab/tree/{name}?token={token}&reset")
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell.currentWidget"
                           " && window.jupyterapp.shell.currentWidget.sessionContext")
    page.locator("#jp-main-statusbar").get_by_text("Idle").first.wait_for()
    start = time.monotonic()
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.wait_for_function(ALL_RUN, polling=500)
    took = time.monotonic() - start
    errors = page.locator(".jp-OutputArea-output").filter(has_text="Traceback")
    if errors.count():
        shot(page, name.replace(".ipynb", "-error"))
        pytest.fail(f"{name}: a cell raised:\n{errors.first.inner_text()[:2000]}")
    assert page.locator(".jp-OutputArea-output").filter(
        has_text="Error displaying widget").count() == 0
    return took


def shot(page, stem: str, locator=None) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (locator or page).screenshot(path=str(ARTIFACTS / f"{stem}.png"),
                                 **({} if locator else {"full_page": True}))


def test_mask_prediction_widget(page, lab):
    took = run_notebook(page, lab, "03_mask_prediction.ipynb")
    out = page.locator(".jp-OutputArea-output").filter(
        has=page.locator(".widget-textarea")).first
    out.wait_for()
    assert "<mask>" in out.locator("textarea").input_value()
    summary = out.locator(".widget-html").filter(has_text="#1").first
    summary.wait_for()
    before = summary.inner_text()
    out.locator(".widget-image img, img.widget-image").first.wait_for()
    shot(page, "03_mask_prediction-widget", out)
    # Typing a new text re-runs the model in the kernel and redraws the table.
    out.locator("textarea").fill("She drank a cup of <mask> every morning.")
    page.wait_for_function("([el, old]) => el.innerText !== old",
                           arg=[summary.element_handle(), before])
    assert "#1" in summary.inner_text()
    print(f"03 ran in {took:.1f} s")


def test_head_ablation_toggle_changes_prediction(page, lab):
    took = run_notebook(page, lab, "05_head_ablation.ipynb")
    toggles = page.locator(".jp-OutputArea-output .widget-toggle-button")
    toggles.first.wait_for()
    names = [t.strip() for t in toggles.all_inner_texts()]
    assert names[0] == "L0H0" and len(names) >= 2
    summary = page.locator(".jp-OutputArea-output .widget-html").filter(has_text="ablated:").first
    summary.wait_for()
    assert "ablated: none" in summary.inner_text()
    widget = page.locator(".jp-OutputArea-output").filter(
        has=page.locator(".widget-toggle-button")).first
    # No broken-image icon before a first sweep: every image shown has loaded pixels.
    broken = widget.evaluate("el => [...el.querySelectorAll('img')].filter(i => "
                             "i.offsetParent !== null && !(i.naturalWidth > 0)).length")
    assert broken == 0
    assert widget.locator(".widget-html").filter(has_text="single-head sweep").count() == 1
    shot(page, "05_head_ablation-before", widget)

    def prediction(text: str) -> str:  # "<mask> #1: city 0.033 → city 0.030": after the arrow
        return text.split("→")[-1].strip()

    clean = prediction(summary.inner_text())
    changed, pressed = False, []
    for i, name in enumerate(names):  # press heads (cumulatively) until the prediction moves
        old = summary.inner_text()
        toggles.nth(i).click()
        pressed.append(name)
        page.wait_for_function("([el, old]) => el.innerText !== old",
                               arg=[summary.element_handle(), old])
        text = summary.inner_text()
        assert re.search(r"ablated:\s*" + re.escape(", ".join(pressed)), text), text
        if prediction(text) != clean:
            changed = True
            break
    assert changed, "ablating heads never changed the shown prediction"
    classes = toggles.nth(len(pressed) - 1).get_attribute("class") or ""
    assert "mod-active" in classes and "mod-danger" in classes  # pressed: red, told apart
    assert "mod-danger" not in (toggles.nth(len(pressed)).get_attribute("class") or "")
    shot(page, "05_head_ablation-after", widget)
    widget.locator(".widget-button").filter(has_text="single-head sweep").click()
    page.wait_for_function(
        "el => [...el.querySelectorAll('img')].filter(i => i.offsetParent !== null "
        "&& i.naturalWidth > 0).length >= 3", arg=widget.element_handle())
    shot(page, "05_head_ablation-sweep", widget)
    print(f"05 ran in {took:.1f} s; pressed {pressed}: {clean!r} -> "
          f"{prediction(summary.inner_text())!r}")


def test_bertviz_views_draw(page, lab):
    took = run_notebook(page, lab, "02_attention_bertviz.ipynb")
    svgs = page.locator(".jp-OutputArea-output svg")
    svgs.first.wait_for()
    page.wait_for_function(
        "() => [...document.querySelectorAll('.jp-OutputArea-output svg')]"
        ".some(s => s.querySelectorAll('line').length > 0)")
    lines = page.evaluate("() => [...document.querySelectorAll('.jp-OutputArea-output svg')]"
                          ".map(s => s.querySelectorAll('line').length)")
    assert max(lines) > 0, lines
    view = page.locator(".jp-OutputArea-output").filter(has=page.locator("svg line")).first
    shot(page, "02_head_view", view)
    # The attention-explorer widget rendered too.
    page.locator(".jp-OutputArea-output .widget-dropdown").first.wait_for()
    shot(page, "02_attention_bertviz")
    print(f"02 ran in {took:.1f} s; svg line counts {lines}")


def test_cache_steps_widget_times_and_steps(page, lab):
    took = run_notebook(page, lab, "06_kv_cache_steps.ipynb")
    widget = page.locator(".jp-OutputArea-output").filter(
        has=page.locator(".widget-slider")).first
    widget.wait_for()
    html = widget.locator(".widget-html").filter(has_text="step 0").first
    html.wait_for()
    shot(page, "06_cache_steps-step0", widget)
    handle = html.element_handle()  # the locator matches "step 0" only: keep the element
    before = handle.inner_text()
    track = widget.locator(".widget-slider .noUi-target, .widget-slider .slider").first
    box = track.bounding_box()
    page.mouse.click(box["x"] + box["width"] - 2, box["y"] + box["height"] / 2)  # the last step
    page.wait_for_function("([el, old]) => el.innerText !== old", arg=[handle, before])
    assert re.search(r"step [1-9]", handle.inner_text()), handle.inner_text()
    shot(page, "06_cache_steps-last", widget)
    print(f"06 ran in {took:.1f} s")


def test_cross_attention_opens_on_the_alignment(page, lab):
    took = run_notebook(page, lab, "07_cross_attention.ipynb")
    widget = page.locator(".jp-OutputArea-output").filter(
        has=page.locator(".widget-dropdown")).first
    widget.wait_for()
    values = widget.evaluate("el => [...el.querySelectorAll('select')].map("
                             "s => s.options[s.selectedIndex].text.replace(/\\s+/g, ' '))")
    assert values[:2] == ["1", "mean of heads"], values
    shot(page, "07_cross_attention-opening-view", widget)
    print(f"07 ran in {took:.1f} s")


def test_course_lesson_runs_without_tensorflow_log_boxes(page, lab):
    took = run_notebook(page, lab, "course/01_tokens_and_the_masked_lm.ipynb")
    passed = page.locator(".jp-OutputArea-output").filter(has_text="lesson1.ex3 passed")
    passed.first.wait_for()
    stderr = page.locator(".jp-OutputArea-output[data-mime-type="
                          "'application/vnd.jupyter.stderr']")
    assert stderr.filter(has_text="oneDNN").count() == 0
    assert stderr.filter(has_text="absl").count() == 0
    shot(page, "course-01")
    print(f"course lesson 1 ran in {took:.1f} s")
