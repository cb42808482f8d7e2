"""The dashboard in a real headless Chromium (Debian's chromium + chromedriver, via Selenium).

One browser and one uvicorn server for the module. Screenshots go to build/screenshots/
(or $CLADE_SCREENSHOTS). Waits are WebDriverWait conditions, never fixed sleeps.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


@pytest.fixture(scope="module")
def backend() -> str:
    """SQLite only: the pages' queries run on both databases in test_dashboard_routes.py and
    test_dashboard_live.py; here the browser's rendering and polling are what is tested."""
    return "sqlite"


@pytest.fixture(scope="module")
def shots() -> Path:
    folder = Path(os.environ.get("CLADE_SCREENSHOTS") or ROOT / "build" / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def base_url(seeded):
    from clade.orchestrator.dashboard.app import create_app
    from clade.orchestrator.dashboard.server import serve_in_thread

    with serve_in_thread(create_app(seeded.archive, poll_interval_s=0.3)) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    os.environ.setdefault("SE_OFFLINE", "true")  # selenium-manager must never download
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                 "--window-size=1400,1000", "--disable-extensions", "--no-first-run"):  # fmt: skip
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def _wait(driver, condition, timeout: float = 15):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(condition)


def _shot(driver, path: Path) -> None:
    """A screenshot of the whole page, not only the window (Chrome DevTools protocol)."""
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}
    )
    path.write_bytes(base64.b64decode(shot["data"]))
    assert path.stat().st_size > 1000


def _nodes(driver):
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.CSS_SELECTOR, "svg.tree circle.node")


def test_runs_list_and_run_page_draw_the_tree(browser, base_url, seeded, shots):
    from selenium.webdriver.common.by import By

    browser.get(base_url + "/")
    assert "Runs" in browser.find_element(By.TAG_NAME, "h1").text
    _shot(browser, shots / "runs.png")
    browser.find_element(By.LINK_TEXT, seeded.run_id).click()
    _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "svg.tree"))
    nodes = _nodes(browser)
    assert len(nodes) == seeded.candidates
    assert {n.get_attribute("data-status") for n in nodes} == {"admitted", "rejected", "failed"}
    assert len(browser.find_elements(By.CSS_SELECTOR, "figure.chart > svg")) == 4
    assert browser.find_element(By.ID, "live").get_attribute("data-polling") == "on"
    _shot(browser, shots / "run.png")


def test_candidate_page_shows_the_diff_and_agent_html_as_text(browser, base_url, seeded, shots):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    browser.get(f"{base_url}/candidates/{seeded.grandchild}")
    diff = browser.find_element(By.CSS_SELECTOR, "pre.diff").text
    assert "-print('better')" in diff and "+print('best')" in diff
    body = browser.find_element(By.TAG_NAME, "body").text
    assert "<script>window.__pwned=1</script>" in body  # shown as text ...
    assert browser.execute_script("return typeof window.__pwned") == "undefined"  # ... not run
    assert not browser.find_elements(By.CSS_SELECTOR, "main img")  # no injected element
    _shot(browser, shots / "candidate.png")

    Select(browser.find_element(By.NAME, "against")).select_by_value(seeded.seed)
    browser.find_element(By.CSS_SELECTOR, "form.against button").click()
    chosen = _wait(browser, lambda d: d.find_elements(By.ID, "against-diff"))[0].text
    assert "-print('seed')" in chosen and "+print('best')" in chosen
    assert browser.execute_script("return typeof window.__pwned") == "undefined"


def test_judge_page_lists_every_version(browser, base_url, shots):
    from selenium.webdriver.common.by import By

    browser.get(base_url + "/judges/pairwise")
    assert len(browser.find_elements(By.CSS_SELECTOR, "article.version")) == 3
    assert (
        "+Ignore length." in browser.find_element(By.CSS_SELECTOR, "article.version pre.diff").text
    )
    assert browser.execute_script("return typeof window.__pwned") == "undefined"
    _shot(browser, shots / "judge.png")


def test_a_running_run_page_shows_a_new_candidate_without_reload(browser, base_url, seeded, shots):
    from selenium.webdriver.common.by import By

    archive = seeded.archive
    run = archive.create_run("live")
    tree = archive.get_candidate(seeded.seed).tree_hash
    seed = archive.add_candidate(run.id, tree, status="admitted")
    browser.get(f"{base_url}/runs/{run.id}")
    assert len(_nodes(browser)) == 1
    browser.execute_script("window.__samePage = true")  # gone if the page reloads

    child = archive.add_candidate(run.id, tree, parent_id=seed.id, status="evaluating")
    _wait(browser, lambda d: len(_nodes(d)) == 2)
    ids = {n.get_attribute("data-id") for n in _nodes(browser)}
    assert ids == {seed.id, child.id}
    assert browser.execute_script("return window.__samePage") is True
    _shot(browser, shots / "run-live.png")

    archive.finish_run(run.id)
    live = browser.find_element(By.ID, "live")
    _wait(browser, lambda d: live.get_attribute("data-polling") == "stopped")
    assert "finished" in browser.find_element(By.CSS_SELECTOR, "section.facts").text
