"""The Dagster and MLflow UIs in a real browser: headless Debian Chromium, driven by Selenium
through the system chromedriver (no browser download), against servers on loopback over a home
whose history is materialized (45 days ingested, trained, decided and monitored; then the sweep
tests' home: two more candidates refused, the stumps promoted by an operator, a 4-trial sweep).
`MLOPS_UPDATE_SCREENSHOT=1` writes the README's screenshots."""

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from mlops_assets.commands.docs import GROUPS  # the lifecycle's order of groups
from mlops_assets.commands.servers import MLFLOW_SERVER_ENV, data_docs_server
from tests.conftest import copy_home, swept_base

pytestmark = pytest.mark.slow

PORT, MLFLOW_PORT, DOCS_PORT = 13300, 13350, 13360
IMAGES = Path(__file__).parents[1] / "docs" / "img"


@pytest.fixture(scope="module")
def swept_home(tmp_path_factory):
    """A copy of the session's swept home (`conftest.swept_base`: a 4-trial sweep, its winner
    not trained)."""
    return copy_home(swept_base(tmp_path_factory), tmp_path_factory.mktemp("swept") / "home")


def serve(command: list[str], settings, health: str, log_name: str):
    """Start `command` on loopback, wait until `health` answers; yields its origin, then stops
    it."""
    log = open(settings.home / log_name, "w")  # noqa: SIM115 (closed below)
    process = subprocess.Popen(
        command,
        env={**os.environ, **settings.env(), **MLFLOW_SERVER_ENV},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(health, timeout=2)
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"{command[0]} did not start: {(settings.home / log_name).read_text()}"
                    ) from None
                time.sleep(0.5)
        yield health.rsplit("/", 1)[0]
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
        log.close()


@pytest.fixture(scope="module")
def webserver(swept_home):
    command = [
        str(Path(sys.executable).parent / "dagster-webserver"),
        *("-h", "127.0.0.1", "-p", str(PORT), "-m", "mlops_assets.definitions"),
    ]
    yield from serve(command, swept_home, f"http://127.0.0.1:{PORT}/server_info", "webserver.log")


@pytest.fixture(scope="module")
def mlflow_ui(swept_home):
    mlflow = swept_home.home / "mlflow"
    command = [
        str(Path(sys.executable).parent / "mlflow"),
        *("server", "--host", "127.0.0.1", "--port", str(MLFLOW_PORT)),
        *("--backend-store-uri", swept_home.profile().tracking_uri),
        *("--default-artifact-root", str(mlflow / "artifacts"), "--workers", "1"),
    ]
    yield from serve(command, swept_home, f"http://127.0.0.1:{MLFLOW_PORT}/health", "mlflow.log")


@pytest.fixture(scope="module")
def data_docs(swept_home):
    """The home's Great Expectations Data Docs site, served as `mlops up` serves it."""
    command = data_docs_server(swept_home.home, DOCS_PORT)
    index = f"http://127.0.0.1:{DOCS_PORT}/index.html"
    yield from serve(command, swept_home, index, "data-docs.log")


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    chromium, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and driver_path):
        message = "Debian's chromium and chromium-driver are not installed (.ci/run installs them)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1800,1100",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium')}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    yield driver
    driver.quit()


def capture(browser, tmp_path: Path, name: str) -> Path:
    time.sleep(2)  # let the page finish its layout animation before the screenshot
    shot = tmp_path / name
    assert browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 20_000  # a rendered page, not a blank one
    if os.environ.get("MLOPS_UPDATE_SCREENSHOT"):
        IMAGES.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, IMAGES / name)
    return shot


def page_text(driver) -> str:
    return driver.find_element("tag name", "body").text


def skip_community_dialog(browser) -> None:
    """Dagster's first-visit community dialog, if it shows, skipped."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    skip = "//button[normalize-space()='Skip']"
    try:
        WebDriverWait(browser, 10).until(lambda d: d.find_elements("xpath", skip))[0].click()
        WebDriverWait(browser, 10).until(lambda d: not d.find_elements("xpath", skip))
    except TimeoutException:
        pass  # no dialog this time


def test_the_expanded_asset_graph_shows_every_asset_materialized(webserver, browser, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(f"{webserver}/asset-groups")

    def every_group_in_the_graph(driver) -> bool:
        # each group is named twice once the graph has rendered: in the sidebar and as a node
        text = page_text(driver).split()
        return all(text.count(group) >= 2 for group in GROUPS)

    WebDriverWait(browser, 90, poll_frequency=1).until(every_group_in_the_graph)
    skip_community_dialog(browser)
    # Alt+E: "Expand all groups" (the graph's own shortcut); then every asset is a node
    # focus the graph on an empty spot above its middle (the middle may be a group's node)
    body = browser.find_element("tag name", "body")
    ActionChains(browser).move_to_element_with_offset(body, 0, -300).click().perform()
    ActionChains(browser).key_down(Keys.ALT).send_keys("e").key_up(Keys.ALT).perform()
    assets = ("candidate_model", "backtest", "champion", "drift_report", "kpis")
    WebDriverWait(browser, 60, poll_frequency=1).until(
        lambda d: all(asset in page_text(d) for asset in assets)
    )
    text = page_text(browser)
    assert "Never materialized" not in text and "Failed" not in text
    capture(browser, tmp_path, "asset-graph.png")


def test_the_backtest_page_shows_its_gates_and_links_its_plots_in_mlflow(
    webserver, mlflow_ui, browser, tmp_path
):
    import urllib.parse

    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(f"{webserver}/assets/lending/backtest")
    link = "//a[contains(@href, '/artifactPath/backtest/reliability.png')]"
    WebDriverWait(browser, 90, poll_frequency=1).until(lambda d: d.find_elements("xpath", link))
    skip_community_dialog(browser)
    text = page_text(browser)
    assert "absolute_floor" in text and "PASS" in text  # the gates, a Dagster table
    gates = browser.find_element("xpath", "//*[normalize-space()='absolute_floor']")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", gates)
    capture(browser, tmp_path, "asset-backtest.png")
    # the reliability diagram is an artifact of the candidate's MLflow run, not inlined in the
    # event log: the link opens it in the MLflow UI (the home was trained for MLflow's default
    # address; this test's server is on another port)
    href = urllib.parse.urlsplit(browser.find_element("xpath", link).get_attribute("href"))
    browser.get(f"{mlflow_ui}{href.path}#{href.fragment}")

    def the_plot(driver):  # the 450 x 360 PNG, decoded (not a logo or a broken image)
        images = driver.find_elements("tag name", "img")
        return [i for i in images if (i.get_property("naturalWidth") or 0) >= 400]

    WebDriverWait(browser, 60, poll_frequency=1).until(the_plot)
    capture(browser, tmp_path, "mlflow-reliability.png")


def test_a_checks_data_docs_page_opens_from_its_metadata(webserver, data_docs, browser, tmp_path):
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(f"{webserver}/assets/lending/raw?view=checks")
    link = "//a[contains(@href, '/data_docs/local_site/validations/lending/raw/')]"
    WebDriverWait(browser, 90, poll_frequency=1).until(lambda d: d.find_elements("xpath", link))
    skip_community_dialog(browser)
    capture(browser, tmp_path, "asset-checks.png")
    # the home was checked without a Data Docs server, so the link is the page's file (under
    # `mlops up` it is the site's URL); a browser opens no file from a web page: this test's
    # server publishes the same site, as `mlops up` does
    href = browser.find_element("xpath", link).get_attribute("href")
    browser.get(data_docs + href.split("/local_site", 1)[1])
    WebDriverWait(browser, 60, poll_frequency=1).until(
        lambda d: "Expectation Validation Result" in page_text(d)
    )
    text = page_text(browser)
    assert "lending.raw" in text and "values must be of type" in text, text[:2000]
    capture(browser, tmp_path, "gx-data-docs.png")


def test_the_sweep_page_shows_its_comparison_table(webserver, browser, tmp_path):
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(f"{webserver}/assets/lending/sweep")
    WebDriverWait(browser, 90, poll_frequency=1).until(
        lambda d: "value_diff_low" in page_text(d) and "logistic_regression" in page_text(d)
    )
    text = page_text(browser)
    assert "hist_gradient_boosting" in text and "verdict" in text
    capture(browser, tmp_path, "asset-sweep.png")


def test_mlflow_compares_the_sweeps_trials_side_by_side(swept_home, mlflow_ui, browser, tmp_path):
    import json
    import urllib.parse

    from mlflow import MlflowClient
    from selenium.webdriver.support.ui import WebDriverWait

    from mlops_assets.lake_access import load_asset

    report = load_asset("sweep", home=swept_home.home)
    client = MlflowClient(tracking_uri=mlflow_ui)
    parent = client.get_run(report["mlflow_run_id"])
    children = client.search_runs(
        [parent.info.experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}'"
    )
    assert len(children) == 5
    ordered = sorted(children, key=lambda c: c.info.run_name)  # trial 0 (the baseline) first
    runs = urllib.parse.quote(json.dumps([c.info.run_id for c in ordered]))
    experiments = urllib.parse.quote(json.dumps([parent.info.experiment_id]))
    browser.get(f"{mlflow_ui}/#/compare-runs?runs={runs}&experiments={experiments}")
    WebDriverWait(browser, 90, poll_frequency=1).until(
        lambda d: (
            all(f"trial {i}" in page_text(d) for i in range(1, 5))
            and "auc_difference_low" in page_text(d)
        )
    )
    capture(browser, tmp_path, "mlflow-sweep-compare.png")
