"""The workbench in a real browser: JupyterLab + Debian chromium driven by Playwright
(issues 6 and 19).

A notebook builds a :class:`flint_widgets.Workbench` offering the session's demo flow and
flint's simulate flow; the test clicks through it like a user: start a SLURMCluster on the
test SLURM (scripts/slurm) from the Cluster panel, see its job pending, then running, and its
worker arrive, with the job script and the inline Dask dashboard; run flint's simulate flow
(one beam: the smallest real flint flow, its two tasks run on the SLURM worker) and the demo
flow on it and follow them in the Runs panel (a click on a grid cell shows that task's log
tail); cancel a long run; the Results panel shows a run's products; the Explore panel draws
the simulated measurement set's uv coverage and a real bandpass; the grid of a 36-beam x
15-stage run is drawn within a second (timed in the browser); Stop leaves no job in squeue;
the Prefect server goes away and comes back, and the Runs panel reports both. Needs
``/usr/bin/chromium`` (``apt-get install chromium``), SLURM and the ``dev`` extra; a missing
browser or a JupyterLab that will not start fails the test.
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
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import psutil
import pytest
import yaml
from astropy.table import Table
from fixtures_workbench import UNCLOSED_API_SOCKET, restart_prefect_api, stop_prefect_api, sync
from PIL import Image
from playwright.sync_api import Locator, Page, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from flint.prefect.submit import ServeRunner, ServeSpec

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900), UNCLOSED_API_SOCKET]

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
GRID_COLUMNS = (
    ("apply", None), ("flag", None), ("split", None), ("image", 0), ("mask", 1), ("selfcal", 1),
    ("apply", 1), ("image", 1), ("mask", 2), ("selfcal", 2), ("apply", 2), ("image", 2),
    ("find", 2), ("noise", 2), ("validate", 2),
)  # fmt: skip
"""The 15 per-beam stages of the continuum flow with two self-calibration rounds."""
COMPLETED_RGB = (0x2E, 0x7D, 0x32)
MARK_CLICK_AND_HEADER_JS = """
() => {
  document.addEventListener("mousedown", () => { window.flintClicked = performance.now(); },
                            {capture: true, once: true});
  const header = [...document.querySelectorAll(".flint-run-header")].find((el) => el.offsetParent);
  new MutationObserver((changes, observer) => {
    if (header.textContent.includes("grid-36-beams")) {
      window.flintHeader = performance.now();
      observer.disconnect();
    }
  }).observe(header, {childList: true, subtree: true, characterData: true});
}
"""
GRID_DRAWN_JS = """
async ({cells, timeout, rgb}) => {
  // every canvas under the grid widget, through bokeh's shadow roots
  const canvases = (root) => [...root.querySelectorAll("*")].flatMap(
    (el) => [...(el.tagName === "CANVAS" ? [el] : []), ...(el.shadowRoot ? canvases(el.shadowRoot) : [])]);
  const green = ([r, g, b]) => {
    let n = 0;
    for (const canvas of canvases(document.querySelector(".flint-grid"))) {
      if (!canvas.width || !canvas.height) continue;
      const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
      for (let i = 0; i < data.length; i += 4)
        if (data[i] === r && data[i + 1] === g && data[i + 2] === b) n++;
    }
    return n;
  };
  const started = performance.now();
  while (performance.now() - started < timeout) {
    if (green(rgb) >= cells * 200) return performance.now();  // every cell filled
    await new Promise((resolve) => requestAnimationFrame(resolve));
  }
  return null;
}
"""
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
def jupyter_lab(tmp_path: Path, prefect_api: str, slurm: dict) -> Iterator[Lab]:
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


def write_notebook(path: Path, entrypoint: str | None, log_dir: Path | None = None) -> None:
    """A one-cell notebook that shows the workbench offering the demo flow and flint's
    simulate flow (``None``: the workbench as a user opens it, offering flint's own flows)."""
    source = (
        (
            "from flint_widgets import Workbench\n"
            "from flint.prefect.choices import SIMULATE\n"
            "from flint.prefect.submit import FlowChoice\n"
            "from flint.prefect.workbench import Session\n"
            "\n"
            "choice = FlowChoice(\n"
            f"    entrypoint={entrypoint!r}, label='demo', cluster_parameter='cluster'\n"
            ")\n"
            f"session = Session([choice, SIMULATE], deployment='browser', log_dir={str(log_dir)!r})\n"
            "bench = Workbench(session=session)\n"
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


def slurm_config(path: Path, logs: Path) -> Path:
    """One SLURM job of one worker, held back 4 s (``--begin``) so that it is seen pending."""
    kwargs = {
        "cores": 1, "processes": 1, "memory": "2GB", "walltime": "00:20:00",
        "interface": "lo", "log_directory": str(logs), "local_directory": "$TMPDIR",
        "job_extra_directives": ["--no-requeue", "--begin=now+4"],
        "job_script_prologue": ["export TMPDIR=/tmp"],
        "scheduler_options": {"dashboard_address": "127.0.0.1:0"}, "silence_logs": "warning",
    }  # fmt: skip
    config = {"cluster_class": "dask_jobqueue.SLURMCluster", "cluster_kwargs": kwargs, "scale": 1}
    path.write_text(yaml.safe_dump(config))
    return path


def squeue() -> list[str]:
    out = subprocess.run(["squeue", "-h", "-o", "%i %T"], capture_output=True, text=True)
    return out.stdout.splitlines()


def make_grid_run(beams: int = 36) -> str:
    """A completed flow run of ``beams`` x 15 completed task runs, made through the API."""
    import asyncio

    from prefect import flow, get_client, task
    from prefect.states import Completed

    @task
    def stage() -> None: ...

    @flow(name="grid-36-beams")
    def grid_run() -> None: ...

    async def make() -> str:
        async with get_client() as client:
            run = await client.create_flow_run(grid_run, state=Completed())
            requests = asyncio.Semaphore(8)

            async def create(beam: int, name: str, number: int | None) -> None:
                label = f"{name}-beam{beam:02d}" + (f"-round{number}" if number is not None else "")
                async with requests:
                    await client.create_task_run(
                        stage, run.id, dynamic_key=label, name=label, state=Completed()
                    )

            await asyncio.gather(
                *(create(b, name, r) for b in range(beams) for name, r in GRID_COLUMNS)
            )
            return str(run.id)

    return sync(make(), timeout=300)


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
    """The visible panel's text (the panel reports everything there)."""
    return page.locator(".flint-panel:visible").inner_text()


def header(page: Page) -> Locator:
    """The followed run's state in the Runs panel (``data-state``)."""
    return page.locator(".flint-panel:visible .flint-run-header span[data-state]")


def follow_run(page: Page, run_name: str) -> Locator:
    """Click ``run_name`` in the runs table (refreshing until it is listed); its state."""
    open_tab(page, "Runs")
    row = page.locator(".flint-runs .slick-row", has_text=run_name)

    def listed() -> bool:
        if row.count():
            return True
        button(page, "Refresh").click()
        return False

    poll(listed, 60, f"run {run_name} listed", every=2)
    row.first.locator(".slick-cell").first.click()
    followed = page.locator(".flint-panel:visible .flint-run-header b", has_text=run_name)
    followed.first.wait_for(timeout=30_000)  # the header names it: its state is this run's
    return header(page)


def submit_from_flow_panel(page: Page, flow: str, fields: dict[str, str]) -> str:
    """Pick ``flow``, fill ``fields`` of its form, submit; return the new run's name."""
    open_tab(page, "Flows")
    panel = page.locator(".flint-panel:visible")
    panel.locator("select").first.select_option(label=flow)
    for label, value in fields.items():
        box = panel.locator(".widget-inline-hbox", has=page.locator(f'label:text-is("{label}")'))
        box.locator("input").fill(value)
        box.locator("input").press("Tab")
    before = panel.locator("a").count()
    button(page, "Submit").click()
    poll(lambda: panel.locator("a").count() > before, 30, f"submission ({status_text(page)})")
    return panel.locator("a").first.inner_text()  # newest first


def canvas_drawn(locator: Locator, path: Path, what: str, least: float = 0.02) -> None:
    """``locator`` (a bokeh view) shows a drawing, not a blank canvas."""
    locator.scroll_into_view_if_needed()
    fractions: list[float] = []

    def drawn() -> bool:
        png = locator.screenshot()
        path.write_bytes(png)
        fractions.append(drawn_fraction(png))
        return fractions[-1] > least

    poll(drawn, 60, f"{what} drawn (fractions {fractions[-3:]})", every=1)


def test_workbench_in_jupyterlab(
    slurm: dict,
    jupyter_lab: Lab,
    demo_runner: ServeRunner,
    demo_spec: ServeSpec,
    real_products,
    real_solutions_path: Path,
    prefect_api: str,
    tmp_path: Path,
) -> None:
    assert CHROMIUM.exists(), f"{CHROMIUM} is missing: apt-get install -y chromium"
    grid_run: list[str] = []
    maker = threading.Thread(target=lambda: grid_run.append(make_grid_run()))
    maker.start()  # 540 task runs through the API, while JupyterLab and the cluster start
    write_notebook(jupyter_lab.root / NOTEBOOK, demo_spec.entrypoints[0], tmp_path / "serve")
    config = slurm_config(jupyter_lab.root / "slurm.yaml", tmp_path / "slurm-logs")
    started = time.monotonic()
    timings: dict[str, float] = {}
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
            _drive(page, jupyter_lab, tmp_path, config, real_products, real_solutions_path,
                   prefect_api, maker, grid_run, timings)  # fmt: skip
        finally:
            page.screenshot(path=tmp_path / "workbench.png", full_page=True)
            try:  # stop the cluster from its panel (the kernel dies with JupyterLab anyway)
                open_tab(page, "Cluster")
                button(page, "Stop").click(timeout=5_000)
            except Exception:  # the page may be what failed; processes are stopped by pid
                pass
            context.close()
            maker.join()
    print(f"browser workbench test: {time.monotonic() - started:.1f} s; {timings}")


def _drive(page, lab, tmp_path, config, products, solutions, api_url, maker, grid_run, timings):
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

    # 1. the workbench renders with its five tabs
    page.locator(".widget-tab .flint-panel").first.wait_for(state="visible", timeout=90_000)
    tabs = page.locator(".widget-tab .lm-TabBar-tab").all_inner_texts()
    assert [t.strip() for t in tabs] == ["Cluster", "Flows", "Runs", "Results", "Explore"]
    settings = page.locator(".flint-panel:visible textarea")
    assert "distributed.LocalCluster" in settings.input_value()

    # 2. a SLURMCluster from the panel: the job script, the job pending, then running, the
    # worker arriving, the dashboard inline
    combo = page.locator(".flint-panel:visible input").first
    combo.fill(str(config))
    combo.press("Enter")
    poll(lambda: "#SBATCH" in settings.input_value(), 30, "job script shown")
    assert "--begin=now+4" in settings.input_value()
    button(page, "Start").click()
    summary = page.locator(".flint-cluster-summary")
    poll(lambda: "1 pending" in summary.inner_text(), 60, f"job pending ({status_text(page)})")
    poll(lambda: "1 running" in summary.inner_text(), 60, "job running")
    poll(lambda: "workers: 1 " in summary.inner_text(), 120, "worker connected")
    assert "fixed at 1 worker" in summary.inner_text()
    address = re.search(r"tcp://[\d.:]+", summary.inner_text()).group(0)
    frames = page.locator("iframe.flint-dashboard")
    poll(lambda: frames.count() == 3, 30, "three dashboard iframes")
    src = frames.first.get_attribute("src") or ""
    assert re.fullmatch(r"/proxy/\d+/individual-task-stream", src), src
    memory = page.locator('iframe.flint-dashboard[title="individual-workers-memory"]')
    memory_frame = page.frame_locator('iframe.flint-dashboard[title="individual-workers-memory"]')
    memory_frame.locator("canvas").first.wait_for(timeout=60_000)
    canvas_drawn(memory, tmp_path / "dashboard.png", "dashboard", least=0.01)

    # 3. flint's simulate flow (one beam) runs on the SLURM worker: the runner is started
    # with the cluster's address, the run completes and its measurement sets exist
    open_tab(page, "Flows")
    button(page, "Start runner").click()
    poll(lambda: f"tasks on {address}" in status_text(page), 120, "runner on the cluster")
    data = tmp_path / "sim"
    name = submit_from_flow_panel(page, "simulate", {"Output Dir *": str(data), "Beams": "[14]"})
    state = follow_run(page, name)
    poll(lambda: state.get_attribute("data-state") == "COMPLETED", 300, f"{name} Completed")
    (field_ms,) = (data / "field").glob("SB*/*_14.ms")  # the raw layout, the form's default
    assert (field_ms / "table.dat").is_file()
    table = page.locator(".flint-runs .slick-row", has_text=name).first
    assert f"output_dir={data.name}" in table.inner_text()  # the run's main parameters

    # 4. the demo flow with an output directory; a click on a grid cell shows its log tail
    name = submit_from_flow_panel(
        page, "demo", {"Beams": str(BEAMS), "Sleep": "0.05", "Output Dir": str(products.continuum)}
    )
    state = follow_run(page, name)
    poll(lambda: state.get_attribute("data-state") == "COMPLETED", 240, f"{name} Completed")
    totals = page.locator(".flint-panel:visible small", has_text="completed")
    poll(lambda: "10 completed" in totals.inner_text(), 60, "every task of the grid completed")
    grid = page.locator(".flint-grid")
    canvas_drawn(grid, tmp_path / "grid.png", "run grid")
    box = grid.bounding_box()  # the top-left cell: beam 00's first stage (flag)
    page.mouse.click(
        box["x"] + box["width"] - 10 - 4 * 64 + 32, box["y"] + box["height"] - 5 - 4 * 18 + 9
    )
    task_log = page.locator(".flint-task-log textarea")
    poll(lambda: "Finished in state" in task_log.input_value(), 60, "task log tail shown")

    # 5. a long run is cancelled from the panel
    long_name = submit_from_flow_panel(page, "demo", {"Beams": "1", "Sleep": "120"})
    state = follow_run(page, long_name)
    poll(lambda: state.get_attribute("data-state") == "RUNNING", 90, f"{long_name} running")
    cancel = button(page, "Cancel")
    poll(cancel.is_enabled, 10, "cancel enabled")
    cancel.click()
    poll(lambda: state.get_attribute("data-state") == "CANCELLED", 60, f"{long_name} Cancelled")

    # 6. the results panel shows the completed run's products: an image and its catalogue
    open_tab(page, "Results")
    panel = page.locator(".flint-panel:visible")
    run_select = panel.locator("select").first
    option = run_select.locator("option", has_text=name)

    def offered() -> bool:
        if option.count():
            return True
        button(page, "Runs").click()
        return False

    poll(offered, 30, f"run {name} offered in the results panel", every=2)
    run_select.select_option(value=option.get_attribute("value"))
    poll(lambda: f"run {name}:" in status_text(page), 60, f"products of {name}")
    panel.locator("select").nth(1).select_option(label="beam 00")
    catalogue = Table.read(products.catalogue)
    rows = page.locator(".flint-panel:visible .flint-catalogue .slick-row")
    poll(lambda: rows.count() == len(catalogue), 30, f"{len(catalogue)} catalogue row(s)")
    columns = page.locator(".flint-panel:visible .flint-catalogue .slick-header-column")
    headers: list[list[str]] = []

    def headed() -> bool:
        headers.append([h.strip() for h in columns.all_inner_texts()])
        return "peak_flux" in headers[-1]

    try:
        poll(headed, 30, "catalogue columns")
    except AssertionError as error:
        raise AssertionError(f"{error}; headers shown: {headers[-1]}") from None
    image = page.locator(".flint-panel:visible .flint-image")
    image.scroll_into_view_if_needed()
    colours: list[int] = []

    def image_drawn() -> bool:
        png = image.screenshot()
        (tmp_path / "results.png").write_bytes(png)
        picture = Image.open(io.BytesIO(png)).convert("L")
        w, h = picture.size
        centre = picture.crop((w // 3, h // 3, 2 * w // 3, 2 * h // 3))  # inside the plot frame
        colours.append(len(set(centre.getdata())))
        return colours[-1] > 30  # a stretched radio image, not a flat square

    poll(image_drawn, 30, f"results image drawn (grey levels {colours})", every=1)

    # 7. Explore: the simulated measurement set's uv coverage, a real bandpass
    open_tab(page, "Explore")
    path = page.locator(".flint-panel:visible input").first
    path.fill(str(field_ms))
    button(page, "Open").click()
    poll(lambda: f"ms: {field_ms}" in status_text(page), 120, f"MS opened ({status_text(page)})")
    canvas_drawn(page.locator(".flint-explore-ms"), tmp_path / "uv.png", "uv coverage")
    path.fill(str(solutions))
    button(page, "Open").click()
    poll(lambda: "solutions:" in status_text(page), 60, "solutions opened")
    canvas_drawn(page.locator(".flint-explore-solutions"), tmp_path / "bandpass.png", "bandpass")

    # 8. a 36-beam x 15-stage run: its grid is drawn within a second of the click
    maker.join()
    open_tab(page, "Runs")
    row = page.locator(".flint-runs .slick-row", has_text="grid-36-beams")
    poll(lambda: row.count() or button(page, "Refresh").click(), 60, "36-beam run listed", every=2)
    # timed in the browser: the click; the header naming the run (the kernel has read its
    # 540 task runs and sends the grid next); the last of the 540 cells painted
    page.evaluate(MARK_CLICK_AND_HEADER_JS)
    row.first.locator(".slick-cell").first.click()
    drawn = page.evaluate(
        GRID_DRAWN_JS, {"cells": 36 * 15, "timeout": 30_000, "rgb": list(COMPLETED_RGB)}
    )
    assert drawn is not None, "the 36-beam grid was not drawn within 30 s"
    clicked, headed = page.evaluate("[window.flintClicked, window.flintHeader]")
    timings["grid36_click_to_drawn_s"] = round((drawn - clicked) / 1e3, 3)
    timings["grid36_render_s"] = round((drawn - headed) / 1e3, 3)
    page.screenshot(path=tmp_path / "grid36.png", full_page=True)
    assert timings["grid36_render_s"] <= 1.0, timings  # issue 19: rendered within a second
    assert timings["grid36_click_to_drawn_s"] <= 5.0, timings  # API reads included

    # 9. Stop leaves no job in the queue
    open_tab(page, "Cluster")
    button(page, "Stop").click()
    poll(lambda: "cluster stopped" in status_text(page), 60, "cluster stopped")
    poll(lambda: squeue() == [], 30, f"squeue empty ({squeue()})")

    # 10. the Prefect server goes away: the runs panel says so, and recovers when it returns
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
            assert [t.strip() for t in tabs] == ["Cluster", "Flows", "Runs", "Results", "Explore"]
            assert "distributed.LocalCluster" in (
                page.locator(".flint-panel:visible textarea").input_value()
            )
            for title in ("Flows", "Runs", "Results", "Explore"):
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
                if title == "Results":  # nothing picked yet: no empty plot or table is drawn
                    page.locator(".flint-panel:visible select").first.wait_for(state="visible")
                    assert not page.locator(".flint-panel:visible .flint-image").is_visible()
                    assert not page.locator(".flint-panel:visible .flint-catalogue").count()
        finally:
            page.screenshot(path=tmp_path / "voila.png", full_page=True)
            browser.close()
