"""The workbench in a real browser: JupyterLab + Debian chromium driven by Playwright (issue 6).

A notebook builds a :class:`flint_widgets.Workbench` offering the session's demo flow; the
test clicks through it like a user: start a LocalCluster and see the inline Dask dashboard
draw, submit the demo flow and watch the runs grid reach Completed for every beam, then cancel
a long run and see it Cancelled; the results panel shows the completed run's products (an
image drawn by bokeh, its catalogue table); the Prefect server goes away and comes back, and
the runs panel reports both. Needs ``/usr/bin/chromium`` (``apt-get install chromium``)
and the ``dev`` extra; a missing browser or a JupyterLab that will not start fails the test.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import TypeVar

import psutil
import pytest
from astropy.table import Table
from fixtures_workbench import UNCLOSED_API_SOCKET, restart_prefect_api, stop_prefect_api
from PIL import Image
from playwright.sync_api import Locator, Page, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from flint.prefect.submit import ServeRunner, ServeSpec

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600), UNCLOSED_API_SOCKET]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
BEAMS = 3
NOTEBOOK = "workbench.ipynb"
T = TypeVar("T")


@dataclass(frozen=True)
class Lab:
    url: str
    token: str
    root: Path
    process: subprocess.Popen


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get_json(url: str, token: str) -> object:
    request = urllib.request.Request(url, headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.load(response)


def _stop_tree(process: subprocess.Popen) -> None:
    """Stop ``process`` and every process it started (kernels, Dask workers), by pid."""
    try:
        tree = [*psutil.Process(process.pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        tree = []
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
    for child in tree:
        try:
            child.terminate()
        except psutil.NoSuchProcess:
            continue
    _, alive = psutil.wait_procs(tree, timeout=10)
    for child in alive:
        try:
            child.kill()
        except psutil.NoSuchProcess:
            continue


@pytest.fixture
def jupyter_lab(tmp_path: Path, prefect_api: str) -> Iterator[Lab]:
    """JupyterLab on a free port with a random token; its kernels see the session's server."""
    root = tmp_path / "lab"
    root.mkdir()
    port, token = _free_port(), secrets.token_hex(16)
    env = {**os.environ, "PREFECT_API_URL": prefect_api}
    assert env.get("PREFECT_HOME"), "the prefect_api fixture exports PREFECT_HOME"
    env.pop("JUPYTERHUB_SERVICE_PREFIX", None)  # the dashboard links use the server's root
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["JUPYTER_CONFIG_DIR"] = str(tmp_path / "jupyter-config")  # no user settings
    env["JUPYTERLAB_SETTINGS_DIR"] = str(tmp_path / "lab-settings")
    env["JUPYTERLAB_WORKSPACES_DIR"] = str(tmp_path / "lab-workspaces")
    env["JUPYTER_RUNTIME_DIR"] = str(tmp_path / "jupyter-runtime")
    env["JUPYTER_DATA_DIR"] = str(tmp_path / "jupyter-data")
    news = tmp_path / "lab-settings" / "@jupyterlab" / "apputils-extension"
    news.mkdir(parents=True)
    (news / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
    argv = [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--LabApp.news_url=",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        *(["--allow-root"] if os.geteuid() == 0 else []),
    ]
    log_path = tmp_path / "jupyterlab.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                pytest.fail(f"JupyterLab exited ({process.returncode}):\n{log_path.read_text()}")
            try:
                _get_json(f"{url}/api/status", token)
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab not up after 60 s:\n{log_path.read_text()[-3000:]}")
                time.sleep(0.3)
        yield Lab(url, token, root, process)
    finally:
        _stop_tree(process)


@pytest.fixture
def voila_app(tmp_path: Path, prefect_api: str) -> Iterator[str]:
    """Voila serving a notebook that shows ``Workbench()``; yields the app's URL."""
    root = tmp_path / "voila"
    root.mkdir()
    write_notebook(root / NOTEBOOK, None)
    port = _free_port()
    env = {**os.environ, "PREFECT_API_URL": prefect_api}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["JUPYTER_CONFIG_DIR"] = str(tmp_path / "jupyter-config")
    env["JUPYTER_RUNTIME_DIR"] = str(tmp_path / "jupyter-runtime")
    env["JUPYTER_DATA_DIR"] = str(tmp_path / "jupyter-data")
    argv = [
        sys.executable, "-m", "voila", str(root / NOTEBOOK), "--no-browser",
        "--Voila.ip=127.0.0.1", f"--Voila.port={port}", "--Voila.port_retries=0",
        "--VoilaConfiguration.show_tracebacks=True",
    ]  # fmt: skip
    log_path = tmp_path / "voila.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env
        )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                pytest.fail(f"Voila exited ({process.returncode}):\n{log_path.read_text()}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"Voila not up after 60 s:\n{log_path.read_text()[-3000:]}")
                time.sleep(0.3)
        yield url
    finally:
        _stop_tree(process)


def write_notebook(path: Path, entrypoint: str | None) -> None:
    """A one-cell notebook that shows the workbench offering the demo flow (``None``: the
    workbench as a user opens it, offering flint's own flows)."""
    source = (
        (
            "from flint_widgets import Workbench\n"
            "from flint.prefect.submit import FlowChoice\n"
            "\n"
            "choice = FlowChoice(\n"
            f"    entrypoint={entrypoint!r}, label='demo', cluster_parameter='cluster'\n"
            ")\n"
            "bench = Workbench([choice])\n"
            "bench"
        )
        if entrypoint
        else "from flint_widgets import Workbench\n\nWorkbench()"
    )
    notebook = {
        "cells": [
            {
                "cell_type": "code",
                "execution_count": None,
                "id": "workbench",
                "metadata": {},
                "outputs": [],
                "source": source,
            }
        ],
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path.write_text(json.dumps(notebook, indent=1))


class _GridParser(HTMLParser):
    """Beam -> states of the filled cells of the runs panel's ``table.flint-grid``."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, list[str]] = {}
        self._row: list[str] | None = None
        self._beam: str | None = None
        self._in_th = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self._row, self._beam = [], None
        elif tag == "th":
            self._in_th = True
        elif tag == "td" and self._row is not None:
            state = dict(attrs).get("data-state")
            if state:
                self._row.append(state)

    def handle_endtag(self, tag: str) -> None:
        if tag == "th":
            self._in_th = False
        elif tag == "tr" and self._row is not None and self._beam not in (None, "beam"):
            self.rows[self._beam] = self._row

    def handle_data(self, data: str) -> None:
        if self._in_th and self._row is not None and self._beam is None:
            self._beam = data.strip()


def grid_states(table_html: str) -> dict[str, list[str]]:
    parser = _GridParser()
    parser.feed(table_html)
    return parser.rows


def drawn_fraction(png: bytes) -> float:
    """The fraction of pixels that differ from the image's most common colour."""
    pixels = list(Image.open(io.BytesIO(png)).convert("RGB").getdata())
    _, most = Counter(pixels).most_common(1)[0]
    return 1 - most / len(pixels)


def poll(condition: Callable[[], T], timeout: float, what: str, every: float = 0.5) -> T:
    """``condition()`` once truthy; fails with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(every)
    return result


def button(page: Page, label: str) -> Locator:
    """The visible panel's button labelled ``label`` (icon aside)."""
    return page.locator(".flint-panel:visible button", has_text=re.compile(rf"^\s*{label}\s*$"))


def open_tab(page: Page, title: str) -> None:
    page.locator(".widget-tab .lm-TabBar-tab", has_text=title).click()


def status_text(page: Page) -> str:
    """The visible panel's status line and history (the panel reports everything there)."""
    return page.locator(".flint-panel:visible").inner_text()


def follow_run(page: Page, run_name: str) -> Locator:
    """Select ``run_name`` in the runs list (refreshing until it is listed); the header."""
    open_tab(page, "Runs")
    run_list = page.locator(".flint-panel:visible select").last
    option = run_list.locator("option", has_text=run_name)

    def listed() -> bool:
        if option.count():
            return True
        button(page, "Refresh").click()
        return False

    poll(listed, 30, f"run {run_name} listed", every=2)
    run_list.select_option(value=option.get_attribute("value"))
    return page.locator(".flint-panel:visible span[data-state]")


def submit_from_flow_panel(page: Page, fields: dict[str, str]) -> str:
    """Fill ``fields`` of the demo form, submit, and return the new run's name."""
    open_tab(page, "Flows")
    panel = page.locator(".flint-panel:visible")
    for label, value in fields.items():
        box = panel.locator(".widget-inline-hbox", has=page.locator(f'label:text-is("{label}")'))
        box.locator("input").fill(value)
        box.locator("input").press("Tab")
    before = panel.locator("a").count()
    button(page, "Submit").click()
    poll(lambda: panel.locator("a").count() > before, 30, f"submission ({status_text(page)})")
    return panel.locator("a").first.inner_text()  # newest first


def test_workbench_in_jupyterlab(
    jupyter_lab: Lab,
    demo_runner: ServeRunner,
    demo_spec: ServeSpec,
    real_products,
    prefect_api: str,
    tmp_path: Path,
) -> None:
    assert CHROMIUM.exists(), f"{CHROMIUM} is missing: apt-get install -y chromium"
    assert demo_runner.alive
    write_notebook(jupyter_lab.root / NOTEBOOK, demo_spec.entrypoints[0])
    started = time.monotonic()
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            tempfile.mkdtemp(dir=tmp_path, prefix="chromium-"),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 1000},
        )
        page = context.new_page()
        page.set_default_timeout(30_000)
        try:
            _drive(page, jupyter_lab, tmp_path, real_products, prefect_api)
        finally:
            page.screenshot(path=tmp_path / "workbench.png", full_page=True)
            try:  # stop the cluster from its panel (the kernel dies with JupyterLab anyway)
                open_tab(page, "Cluster")
                button(page, "Stop").click(timeout=5_000)
            except Exception:  # the page may be what failed; processes are stopped by pid
                pass
            context.close()
    print(f"browser workbench test: {time.monotonic() - started:.1f} s")


def _drive(page: Page, lab: Lab, tmp_path: Path, products, api_url: str) -> None:
    page.goto(f"{lab.url}/lab/tree/{NOTEBOOK}?token={lab.token}")
    page.locator(".jp-NotebookPanel .jp-Cell").first.wait_for()
    statusbar = page.locator("#jp-main-statusbar")
    poll(lambda: "Idle" in statusbar.inner_text(), 60, "kernel idle")
    # Run > Run All Cells, as a user would
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
    choose = page.locator(".jp-Dialog").get_by_role("button", name="Select", exact=True)
    with contextlib.suppress(PlaywrightTimeout):  # JupyterLab may still ask for the kernel
        choose.click(timeout=3_000)

    # 1. the workbench renders with its four tabs
    page.locator(".widget-tab .flint-panel").first.wait_for(state="visible", timeout=90_000)
    tabs = page.locator(".widget-tab .lm-TabBar-tab").all_inner_texts()
    assert [t.strip() for t in tabs] == ["Cluster", "Flows", "Runs", "Results"]
    assert "distributed.LocalCluster" in page.locator(".flint-panel:visible textarea").input_value()

    # 2. start a LocalCluster; its dashboard appears inline and draws
    button(page, "Start").click()
    poll(lambda: "LocalCluster started" in status_text(page), 90, "cluster start")
    frames = page.locator("iframe.flint-dashboard")
    poll(lambda: frames.count() == 3, 30, "three dashboard iframes")
    src = frames.first.get_attribute("src") or ""
    assert re.fullmatch(r"/proxy/\d+/individual-task-stream", src), src
    memory = page.locator('iframe.flint-dashboard[title="individual-workers-memory"]')
    memory.scroll_into_view_if_needed()
    memory_frame = page.frame_locator('iframe.flint-dashboard[title="individual-workers-memory"]')
    memory_frame.locator("canvas").first.wait_for(timeout=60_000)
    shots: list[float] = []

    def drawn() -> bool:
        png = memory.screenshot()
        shots.append(drawn_fraction(png))
        (tmp_path / "dashboard.png").write_bytes(png)
        return shots[-1] > 0.01

    poll(drawn, 30, f"dashboard canvas drawn (fractions {shots})", every=1)

    # 3. submit the demo flow; the runs grid reaches Completed for every beam
    open_tab(page, "Flows")
    button(page, "Start runner").click()
    poll(lambda: "connected" in status_text(page), 60, "connect to the serve runner")
    fields = {"Beams": str(BEAMS), "Sleep": "0.05", "Output Dir": str(products.continuum)}
    name = submit_from_flow_panel(page, fields)
    header = follow_run(page, name)
    grid = page.locator(".flint-panel:visible table.flint-grid")

    def completed() -> dict[str, list[str]] | None:
        if not grid.count():
            return None
        rows = grid_states(grid.inner_html())
        beams = {f"{b:02d}" for b in range(BEAMS)}
        every_beam_done = beams <= set(rows) and all(
            len(rows[b]) >= 3 and set(rows[b]) == {"COMPLETED"} for b in beams
        )
        return rows if every_beam_done else None

    poll(completed, 240, f"grid of {name} Completed for every beam")
    poll(lambda: header.get_attribute("data-state") == "COMPLETED", 30, f"{name} Completed")
    page.screenshot(path=tmp_path / "runs-completed.png")

    # 4. a long run is cancelled from the panel
    long_name = submit_from_flow_panel(page, {"Beams": "1", "Sleep": "120"})
    assert long_name != name
    header = follow_run(page, long_name)
    poll(
        lambda: 'data-state="RUNNING"' in (grid.inner_html() if grid.count() else ""),
        90,
        f"{long_name} running",
    )
    cancel = button(page, "Cancel")
    poll(cancel.is_enabled, 10, "cancel enabled")
    cancel.click()
    poll(lambda: header.get_attribute("data-state") == "CANCELLED", 60, f"{long_name} Cancelled")
    assert "Cancelled" in header.inner_text()

    # 5. the results panel shows the completed run's products: an image and its catalogue
    open_tab(page, "Results")
    panel = page.locator(".flint-panel:visible")
    run_select = panel.locator("select").first
    option = run_select.locator("option", has_text=name)

    def listed() -> bool:
        if option.count():
            return True
        button(page, "Runs").click()
        return False

    poll(listed, 30, f"run {name} offered in the results panel", every=2)
    run_select.select_option(value=option.get_attribute("value"))
    poll(lambda: f"run {name}:" in status_text(page), 60, f"products of {name}")
    show = panel.locator("select").nth(1)
    show.select_option(label="beam 00")
    catalogue = Table.read(products.catalogue)
    rows = page.locator(".flint-catalogue .slick-row")
    poll(lambda: rows.count() == len(catalogue), 30, f"{len(catalogue)} catalogue row(s)")
    header = page.locator(".flint-catalogue .slick-header-column")
    poll(
        lambda: "peak_flux" in [h.strip() for h in header.all_inner_texts()],
        30,
        "catalogue columns shown",
    )
    image = page.locator(".flint-image")
    image.scroll_into_view_if_needed()
    colours: list[int] = []

    def image_drawn() -> bool:
        png = image.screenshot()
        (tmp_path / "results.png").write_bytes(png)
        picture = Image.open(io.BytesIO(png)).convert("L")
        w, h = picture.size
        centre = picture.crop((w // 3, h // 3, 2 * w // 3, 2 * h // 3))  # inside the plot frame
        colours.append(len(set(centre.getdata())))
        return colours[-1] > 30  # a stretched radio image, not the empty panel's flat square

    poll(image_drawn, 30, f"results image drawn (grey levels {colours})", every=1)

    # 6. the Prefect server goes away: the runs panel says so, and recovers when it returns
    open_tab(page, "Runs")
    stop_prefect_api()
    try:
        poll(
            lambda: "cannot reach the Prefect API" in status_text(page),
            90,
            "Prefect outage reported in the runs panel",
        )
    finally:
        restart_prefect_api(api_url)
    poll(
        lambda: "Prefect API reachable again" in status_text(page),
        90,
        "runs panel recovered after the Prefect server returned",
    )


def test_workbench_in_voila(voila_app: str, tmp_path: Path) -> None:
    """The workbench as an app: Voila runs the notebook, chromium shows every panel."""
    assert CHROMIUM.exists(), f"{CHROMIUM} is missing: apt-get install -y chromium"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            page.goto(voila_app, timeout=120_000)  # Voila answers once the notebook has run
            page.locator(".widget-tab .flint-panel").first.wait_for(state="visible", timeout=60_000)
            tabs = page.locator(".widget-tab .lm-TabBar-tab").all_inner_texts()
            assert [t.strip() for t in tabs] == ["Cluster", "Flows", "Runs", "Results"]
            assert "distributed.LocalCluster" in (
                page.locator(".flint-panel:visible textarea").input_value()
            )
            for title in ("Flows", "Runs", "Results"):
                open_tab(page, title)
                page.locator(".flint-panel:visible").first.wait_for(state="visible")
                if title == "Flows":  # flint's own flows, the simulate form shown
                    options = page.locator(".flint-panel:visible select").first
                    labels = options.locator("option").all_inner_texts()
                    assert labels == ["simulate", "bandpass", "continuum"], labels
                    assert (
                        page.locator('.flint-panel:visible label:text-is("Output Dir *")').count()
                        == 1
                    )
                if title == "Results":
                    page.locator(".flint-panel:visible .flint-image").wait_for(state="visible")
        finally:
            page.screenshot(path=tmp_path / "voila.png", full_page=True)
            browser.close()
