"""The documentation site, built from the quick-mode tutorials with warnings as errors, checked for
broken internal links and opened in a real browser (headless Chromium through Selenium) from a
local server on 127.0.0.1: the landing page, a tutorial with its figures, an API page, no
JavaScript errors, and the search finding BatchNorm."""

import functools
import http.server
import shutil
import sys
import threading
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"

CHROMIUM = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)
CHROMEDRIVER = shutil.which("chromedriver")


def test_the_built_site_has_no_broken_internal_link(built_site):
    sys.path.insert(0, str(DOCS))
    try:
        from check_links import broken_links
    finally:
        sys.path.remove(str(DOCS))
    broken, checked = broken_links(built_site)
    assert checked > 1000 and broken == []


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def site_url(built_site):
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_Quiet, directory=str(built_site)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture(scope="module")
def browser():
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    if CHROMIUM is None or CHROMEDRIVER is None:
        pytest.skip("headless Chromium needs Debian's chromium and chromium-driver "
                    "(apt-get install chromium chromium-driver); not found on PATH")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--window-size=1280,900", "--disable-extensions", "--no-first-run"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=webdriver.ChromeService(executable_path=CHROMEDRIVER),
                              options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def _open(browser, url):
    """Load a page and return the browser console's SEVERE entries it produced."""
    from selenium.webdriver.support.ui import WebDriverWait
    browser.get_log("browser")  # drop what earlier pages logged
    browser.get(url)
    WebDriverWait(browser, 30).until(
        lambda d: d.execute_script("return document.readyState") == "complete")
    return [e for e in browser.get_log("browser") if e["level"] == "SEVERE"
            and "favicon.ico" not in e["message"]]  # the browser asks for one; the site has none


def test_the_landing_page_loads(browser, site_url):
    assert _open(browser, f"{site_url}/index.html") == []
    assert "nlayer" in browser.title
    body = browser.find_element("tag name", "body").text
    assert "N-layer perceptrons written from scratch in NumPy" in body
    links = [a.get_attribute("href") for a in browser.find_elements("css selector", "a")]
    for page in ("getting-started.html", "tutorials/index.html", "guide/index.html", "api.html"):
        assert any(href and href.endswith(page) for href in links), page


def test_a_tutorial_page_shows_its_figures(browser, site_url):
    from selenium.webdriver.support.ui import WebDriverWait
    assert _open(browser, f"{site_url}/tutorials/02_going_deep.html") == []
    images = WebDriverWait(browser, 30).until(lambda d: d.execute_script(
        "const im = Array.from(document.images).filter(i => i.src.includes('_images/'));"
        "return im.length && im.every(i => i.complete) ? "
        "im.map(i => [i.src, i.naturalWidth, i.naturalHeight]) : false"))
    assert len(images) >= 3
    assert all(width > 100 and height > 100 for _, width, height in images), images
    text = browser.find_element("tag name", "main").text
    assert "first layer / the output layer" in text and "TrainingDivergedError" in text


def test_an_api_page_documents_batchnorm(browser, site_url):
    assert _open(browser, f"{site_url}/generated/nlayer.BatchNorm.html") == []
    assert "BatchNorm" in browser.find_element("tag name", "h1").text
    text = browser.find_element("tag name", "main").text
    assert "Batch normalisation of Z" in text and "moving_mean" in text


def test_the_search_finds_batchnorm(browser, site_url):
    from selenium.webdriver.support.ui import WebDriverWait
    assert _open(browser, f"{site_url}/search.html?q=BatchNorm") == []
    results = WebDriverWait(browser, 30).until(lambda d: [
        a.get_attribute("href") for a in d.find_elements("css selector", "#search-results ul.search li a")])
    assert any(href.endswith("generated/nlayer.BatchNorm.html") for href in results), results
