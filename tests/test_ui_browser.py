"""The Dagster UI in a real browser: headless Debian Chromium, driven by Selenium through the
system chromedriver (no browser download), against a webserver on loopback over a home whose
history is materialized (45 days ingested, a champion trained, decided and monitored).
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

pytestmark = pytest.mark.slow

PORT = 13300
IMAGES = Path(__file__).parents[1] / "docs" / "img"


@pytest.fixture(scope="module")
def webserver(trained_home):
    settings = trained_home
    command = [
        str(Path(sys.executable).parent / "dagster-webserver"),
        *("-h", "127.0.0.1", "-p", str(PORT), "-m", "mlops_assets.definitions"),
    ]
    log = open(settings.home / "webserver.log", "w")  # noqa: SIM115 (closed below)
    process = subprocess.Popen(
        command,
        env={**os.environ, **settings.env()},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{PORT}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{url}/server_info", timeout=2)
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"webserver did not start: {(settings.home / 'webserver.log').read_text()}"
                    ) from None
                time.sleep(0.5)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
        log.close()


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


def test_the_expanded_asset_graph_shows_every_asset_materialized(webserver, browser, tmp_path):
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(f"{webserver}/asset-groups")

    def every_group_in_the_graph(driver) -> bool:
        # each group is named twice once the graph has rendered: in the sidebar and as a node
        text = page_text(driver).split()
        return all(text.count(group) >= 2 for group in GROUPS)

    WebDriverWait(browser, 90, poll_frequency=1).until(every_group_in_the_graph)
    skip = "//button[normalize-space()='Skip']"  # the first-visit community dialog
    try:
        WebDriverWait(browser, 10).until(lambda d: d.find_elements("xpath", skip))[0].click()
        WebDriverWait(browser, 10).until(lambda d: not d.find_elements("xpath", skip))
    except TimeoutException:
        pass  # no dialog this time
    # Alt+E: "Expand all groups" (the graph's own shortcut); then every asset is a node
    browser.find_element("tag name", "body").click()
    ActionChains(browser).key_down(Keys.ALT).send_keys("e").key_up(Keys.ALT).perform()
    assets = ("candidate_model", "backtest", "champion", "drift_report", "kpis")
    WebDriverWait(browser, 60, poll_frequency=1).until(
        lambda d: all(asset in page_text(d) for asset in assets)
    )
    text = page_text(browser)
    assert "Never materialized" not in text and "Failed" not in text
    capture(browser, tmp_path, "asset-graph.png")


def test_the_backtest_page_shows_its_gates_and_reliability_plot(webserver, browser, tmp_path):
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(f"{webserver}/assets/lending/backtest")
    show = "//*[normalize-space()='reliability']/following::a[normalize-space()='[Show Markdown]']"
    WebDriverWait(browser, 90, poll_frequency=1).until(lambda d: d.find_elements("xpath", show))
    assert "PASS absolute_floor" in page_text(browser)  # the gate verdicts, as metadata
    browser.find_element("xpath", show).click()  # the plot opens in a dialog
    image = WebDriverWait(browser, 30).until(
        lambda d: d.find_elements("css selector", "img[alt='reliability diagram']")
    )[0]
    assert image.get_property("naturalWidth") > 100  # the PNG decoded, not a broken image
    capture(browser, tmp_path, "asset-backtest.png")
