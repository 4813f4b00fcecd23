"""The live page in a real browser: upload a file, see its timeline drawn."""

from __future__ import annotations

from pathlib import Path

from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ready
from selenium.webdriver.support.ui import WebDriverWait

from tests.conftest import write_tone
from tests.serve.browser import chromium

WAIT_SECONDS = 30


def _upload(driver, url: str, path) -> dict:
    driver.get(url)
    wait = WebDriverWait(driver, WAIT_SECONDS)
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#upload-model option"))
    driver.find_element(By.ID, "upload-file").send_keys(str(path))
    driver.find_element(By.ID, "upload-button").click()
    result = wait.until(
        ready.presence_of_element_located((By.CSS_SELECTOR, "#upload-result[data-windows]"))
    )
    return {"windows": int(result.get_attribute("data-windows")), "text": result.text}


def test_page_scores_an_upload_and_draws_its_timeline(service, tmp_path):
    clip = write_tone(tmp_path / "pump-7.wav", seconds=12.0, freq=300.0, seed=2)
    expected = service.client.post(
        "/v1/score", params={"timeline": "true"}, content=clip.read_bytes()
    )
    windows = expected.json()["files"][0]["timeline"]["windows"]
    with chromium() as driver:
        shown = _upload(driver, service.url, clip)
        points = driver.find_elements(By.CSS_SELECTOR, "#upload-chart circle.point")
        thresholds = driver.find_elements(By.CSS_SELECTOR, "#upload-chart line.threshold")
        red = [p for p in points if "anomaly" in p.get_attribute("class")]
        picture = tmp_path / "serve-page.png"
        driver.save_screenshot(str(picture))
    print(f"screenshot of the page: {picture}")
    assert shown["windows"] == len(windows) == len(points) == 8
    assert len(thresholds) == 1
    assert "pump-7.wav" in shown["text"] and "threshold" in shown["text"]
    anomalous = sum(w["decision"] == "anomaly" for w in windows)
    assert len(red) == anomalous


def test_page_fits_a_phone(service, tmp_path):
    clip = write_tone(tmp_path / "a.wav", seconds=4.0)
    with chromium(width=390, height=844) as driver:
        _upload(driver, service.url, clip)
        overflow = driver.execute_script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        chart = driver.find_element(By.ID, "upload-chart").size["width"]
    assert overflow <= 0  # nothing wider than the screen
    assert chart > 300  # the chart uses the width it has


def test_page_follows_the_watched_sources_live(plant_service, tmp_path):
    windows = plant_service.client.get("/v1/sources/pump-1/windows").json()
    with chromium() as driver:
        driver.get(plant_service.url)
        wait = WebDriverWait(driver, WAIT_SECONDS)
        card = wait.until(ready.presence_of_element_located((By.ID, "source-pump-1")))
        wait.until(
            lambda d: len(card.find_elements(By.CSS_SELECTOR, "circle.point")) == len(windows)
        )
        assert card.find_elements(By.CSS_SELECTOR, "line.threshold")
        assert card.find_elements(By.CSS_SELECTOR, "rect.alert")  # the whistles' alert, shaded
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#events li.alert_opened"))
        before = len(card.find_elements(By.CSS_SELECTOR, "circle.point"))
        folder = Path(plant_service.server.service.watch.monitor.specs[0].target)
        write_tone(folder / "late.wav", seconds=1.5, freq=3000.0)  # a new recording arrives
        wait.until(lambda d: len(card.find_elements(By.CSS_SELECTOR, "circle.point")) > before)
        driver.find_element(By.ID, "upload-file").send_keys(str(folder / "late.wav"))
        driver.find_element(By.ID, "upload-button").click()
        wait.until(
            ready.presence_of_element_located((By.CSS_SELECTOR, "#upload-result[data-windows]"))
        )
        picture = tmp_path / "serve-live.png"
        driver.save_screenshot(str(picture))
    print(f"screenshot of the page: {picture}")
