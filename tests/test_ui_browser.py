"""End to end: `stylegan-edit ui` on a free port of 127.0.0.1, opened in real headless Chromium through Selenium:
upload a broken file (a one-line message in the page), then a photo; wait for the edited image, move the age
slider, check that the image appeared and changed, and save a screenshot (also to $STYLEGAN_EDIT_SCREENSHOT when
set: the README's docs/editor.png)."""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest
from PIL import Image

CHROMIUM = next((shutil.which(name) for name in ("chromium", "chromium-browser") if shutil.which(name)), None)
CHROMEDRIVER = shutil.which("chromedriver")
REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None,
    reason="needs chromium and chromedriver (Debian: apt-get install -y chromium chromium-driver)",
)
pytest.importorskip("gradio", reason="the editor needs the ui extra: pip install 'stylegan-edit[ui]'")
pytest.importorskip("selenium", reason="the browser test needs selenium (in the test extra)")

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.options import Options  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """`stylegan-edit ui` in a subprocess; its address once the page answers. Ended with Ctrl-C: status 130."""
    port = free_port()
    environment = {**os.environ, "PYTHONPATH": str(REPO), "GRADIO_TEMP_DIR": str(tmp_path / "gradio")}
    process = subprocess.Popen(
        [sys.executable, "-m", "stylegan_edit.cli", "ui", "--port", str(port), "--device", "cpu"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=environment,
        text=True,
    )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 90
    while True:
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    break
        except OSError:
            time.sleep(0.25)
    try:
        yield url
    finally:
        process.send_signal(signal.SIGINT)
        try:
            stdout, stderr = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            stdout, stderr = process.communicate()
    assert process.returncode == 130, stderr
    assert stdout.strip().splitlines() == [f"editor at {url} (Ctrl-C to stop)"]
    assert "Traceback" not in stderr and stderr.strip().splitlines()[-1] == "interrupted"


@pytest.fixture
def browser() -> Iterator[webdriver.Chrome]:
    options = Options()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1160"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def edited_source(driver: webdriver.Chrome) -> str | None:
    images = driver.find_elements(By.CSS_SELECTOR, "#edited img")
    return images[0].get_attribute("src") if images else None


def toast_text(driver: webdriver.Chrome) -> str:
    """The messages the page shows (Gradio's toasts), once their text has rendered."""
    return " ".join(toast.text for toast in driver.find_elements(By.CSS_SELECTOR, "[data-testid='toast-body']")).strip()


def fetch(url: str) -> np.ndarray:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return np.asarray(Image.open(io.BytesIO(answer.read())).convert("RGB"), dtype=np.float32)


def test_upload_edit_and_move_a_slider_in_chromium(server: str, browser: webdriver.Chrome, tmp_path: Path) -> None:
    from stylegan_edit.ui.editor import Editor

    photo = tmp_path / "face.png"
    Editor().seed_photo(7).resize((256, 256), Image.Resampling.LANCZOS).save(photo)
    browser.get(server)
    wait = WebDriverWait(browser, 90, poll_frequency=0.2)
    broken = tmp_path / "broken.png"
    broken.write_text("not an image")
    upload = wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#upload input[type=file]"))[0]
    upload.send_keys(str(broken))
    message = wait.until(toast_text)
    assert "broken.png is not a readable image" in message and "Traceback" not in message
    for close in browser.find_elements(By.CSS_SELECTOR, "[data-testid='toast-close']"):
        close.click()
    browser.find_element(By.CSS_SELECTOR, "#upload button[aria-label='Clear']").click()
    upload = wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#upload input[type=file]"))[0]
    upload.send_keys(str(photo))
    first = wait.until(edited_source)
    before = fetch(first)
    assert before.shape == (64, 64, 3) and before.std() > 5  # a face, not a blank image
    metrics = browser.find_element(By.CSS_SELECTOR, "#metrics textarea").get_attribute("value") or ""
    assert metrics.startswith("PSNR ") and "psp encoder" in metrics
    notes = browser.find_element(By.CSS_SELECTOR, "#notes textarea").get_attribute("value") or ""
    assert notes.startswith("face.png: ")

    browser.find_element(By.CSS_SELECTOR, "#slider-age input[type=range]").send_keys(Keys.ARROW_RIGHT * 30)
    second = wait.until(lambda d: (src := edited_source(d)) != first and src)
    number = browser.find_element(By.CSS_SELECTOR, "#slider-age input[type=number]").get_attribute("value")
    assert float(number or 0) == pytest.approx(3.0)
    after = fetch(str(second))
    assert after.shape == before.shape and np.abs(after - before).mean() > 1.0  # the edit shows

    screenshot = tmp_path / "editor.png"
    browser.save_screenshot(str(screenshot))
    assert Image.open(screenshot).size[0] >= 1000
    if os.environ.get("STYLEGAN_EDIT_SCREENSHOT"):
        shutil.copyfile(screenshot, os.environ["STYLEGAN_EDIT_SCREENSHOT"])
    requested = {
        message["params"]["request"]["url"]
        for entry in browser.get_log("performance")
        if (message := json.loads(entry["message"])["message"])["method"] == "Network.requestWillBeSent"
    }
    outside = {url for url in requested if urlparse(url).scheme in ("http", "https", "ws", "wss")}
    outside = {url for url in outside if urlparse(url).hostname != "127.0.0.1"}
    assert requested and not outside, f"the page fetched from elsewhere: {sorted(outside)[:5]}"
