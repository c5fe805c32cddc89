"""The pages for people (:mod:`app.routes.pages`): /ui and /docs, every asset from the service itself;
then the page in a real headless browser (Debian's Chromium and its driver)."""

import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings
from ner.inference.tagger import Tagger

KEY = "page-key"


def _assets(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="([^"]*)"', html) + re.findall(r"fetch\(\"([^\"]*)\"", html)


def test_pages_need_nothing_from_elsewhere_and_no_key(tagger: Tagger) -> None:
    with TestClient(create_app(Settings(api_keys=KEY), tagger)) as c:
        assert c.get("/", follow_redirects=False).headers["location"] == "/ui"
        page = c.get("/ui")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        docs = c.get("/docs", headers={"Authorization": f"Bearer {KEY}"})
        assert docs.status_code == 200
        for html in (page.text, docs.text):
            for url in _assets(html):
                assert not url.startswith(("http:", "https:", "//")), url  # no CDN
        for url in _assets(docs.text):
            if url.startswith("/static/"):
                assert c.get(url).status_code == 200, url  # Swagger UI's files, no key needed
        assert c.post("/tag", json={"texts": ["Alice"]}).status_code == 401  # the model still needs one


def _browser_tools() -> tuple[str, str] | None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return (chromium, driver) if chromium and driver else None


@pytest.fixture(scope="module")
def live_server(tagger: Tagger) -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(create_app(Settings(api_keys=KEY), tagger), port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/ready", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.1)
    yield url
    server.should_exit = True
    thread.join(timeout=10)


@pytest.mark.skipif(_browser_tools() is None, reason="needs chromium and chromedriver (apt)")
def test_the_page_in_a_real_browser_asks_for_the_key_and_highlights_entities(live_server: str) -> None:
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    tools = _browser_tools()
    assert tools is not None
    options = webdriver.ChromeOptions()
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1000,700"):
        options.add_argument(flag)
    options.binary_location = tools[0]
    browser = webdriver.Chrome(service=Service(tools[1]), options=options)
    try:
        browser.get(f"{live_server}/ui")
        box = browser.find_element(By.ID, "text")
        box.clear()
        box.send_keys("Alice Walker visited Paris.")
        browser.find_element(By.ID, "tag").click()
        WebDriverWait(browser, 10).until(lambda b: b.find_element(By.ID, "keybox").is_displayed())
        browser.find_element(By.ID, "key").send_keys(KEY)
        browser.find_element(By.ID, "usekey").click()
        WebDriverWait(browser, 10).until(lambda b: b.find_elements(By.CSS_SELECTOR, "#out mark"))
        marks = browser.find_elements(By.CSS_SELECTOR, "#out mark")
        found = [(m.get_attribute("data-label"), m.text.split("\n")[0]) for m in marks]
        assert [label for label, _ in found] == ["PER", "LOC"]
        assert found[0][1].startswith("Alice Walker") and found[1][1].startswith("Paris")
        assert browser.find_element(By.ID, "out").text.startswith("Alice Walker")  # in place, in order
        browser.find_element(By.ID, "showjson").click()
        assert '"label": "PER"' in browser.find_element(By.ID, "json").text
    finally:
        browser.quit()
