"""A screenshot of the /ui page with a text tagged, for docs/ (Chromium and chromedriver from apt).

ner serve --port 8765 &
python bench/ui_screenshot.py --url http://127.0.0.1:8765 --out docs/ui.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

TEXT = (
    "Angela Merkel met Emmanuel Macron in Paris on Tuesday, a day after the European Commission "
    "in Brussels cut its forecast for Deutsche Bank and Airbus."
)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", default="http://127.0.0.1:8765")
    parser.add_argument("--out", type=Path, default=Path("docs/ui.png"))
    parser.add_argument("--key", default=None, help="the API key, if the service needs one")
    args = parser.parse_args()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1000,560"):
        options.add_argument(flag)
    options.binary_location = "/usr/bin/chromium"
    browser = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        browser.get(f"{args.url}/ui")
        if args.key:
            browser.execute_script("sessionStorage.setItem('ner-api-key', arguments[0])", args.key)
        box = browser.find_element(By.ID, "text")
        box.clear()
        box.send_keys(TEXT)
        browser.find_element(By.ID, "tag").click()
        WebDriverWait(browser, 10).until(lambda b: b.find_elements(By.CSS_SELECTOR, "#out mark"))
        browser.save_screenshot(str(args.out))
        print(f"wrote {args.out}")
    finally:
        browser.quit()


if __name__ == "__main__":
    main()
