"""Public mode in a real browser (headless Debian chromium): a preset saved in the browser survives a
reload, is this browser's alone, and the server's presets folder and project stay as they were; a
download is the current settings as a YAML preset, and an uploaded YAML file sets the controls.

The app is served as on a Space (public mode, the shipped presets folder itself). Every wait is one of
playwright's auto-waiting expectations (generous timeouts: the machine is small and shared).
"""

from __future__ import annotations

import pytest
import yaml
from playwright.sync_api import expect

from playground.limits import Limits
from tests.browser_util import SLOW, number_box, open_app, serve, set_number
from tests.test_public import PROJECT, snapshot

pytest_plugins = ["tests.browser_util"]  # fixtures: browser

pytestmark = [pytest.mark.browser, pytest.mark.model]

NAME = "room-7"


@pytest.fixture(scope="module")
def public_url(engine):
    demo, url = serve(engine, limits=Limits(public=True))
    try:
        yield url
    finally:
        demo.close()


def pick(page, option: str) -> None:
    page.locator("#preset input").click()
    page.get_by_role("option", name=option, exact=True).click()


def test_a_preset_saved_in_the_browser_survives_a_reload(browser, public_url, tmp_path):
    before = snapshot(PROJECT)
    page = open_app(browser, public_url)
    try:
        set_number(page, "top_k", 7)
        expect(number_box(page, "top_k")).to_have_value("7")
        page.locator("#preset-name textarea, #preset-name input").first.fill(NAME)
        page.locator("#save-preset").click()
        expect(page.locator("#preset-info")).to_contain_text(f"Saved preset {NAME} in this browser")
        assert page.evaluate("() => localStorage.getItem('sampling-playground-presets')")

        page.reload(wait_until="domcontentloaded")
        expect(page.locator("#plot-note")).not_to_be_empty(timeout=SLOW)
        expect(number_box(page, "top_k")).to_have_value("0")  # a fresh page starts from the defaults
        pick(page, f"{NAME} (this browser)")
        expect(page.locator("#preset-info")).to_contain_text(NAME)
        expect(number_box(page, "top_k")).to_have_value("7")

        # The download is these settings as a preset file, made in the page, named as the name box says.
        page.locator("#preset-name textarea, #preset-name input").first.fill("for the room")
        with page.expect_download() as got:
            page.locator("#download-preset").click()
        assert got.value.suggested_filename == "for-the-room.yaml"
        assert yaml.safe_load(open(got.value.path()).read())["top_k"] == 7

        # An uploaded file sets the controls and is kept in this browser under its name.
        upload = tmp_path / "from-the-workshop.yaml"
        upload.write_text("description: shared in the room\ntemperature: 0.3\ntop_k: 11\n")
        with page.expect_file_chooser() as chooser:
            page.locator("#upload-preset").click()
        chooser.value.set_files(str(upload))
        expect(page.locator("#preset-info")).to_contain_text("Kept in this browser as from-the-workshop")
        expect(number_box(page, "top_k")).to_have_value("11")
        page.locator("#preset input").click()
        expect(page.get_by_role("option", name="from-the-workshop (this browser)", exact=True)).to_be_visible()
        page.keyboard.press("Escape")
    finally:
        page.context.close()

    other = open_app(browser, public_url)  # another visitor (a fresh browser profile) has none of them
    try:
        other.locator("#preset input").click()
        expect(other.get_by_role("option", name="greedy", exact=True)).to_be_visible()
        expect(other.get_by_role("option", name=f"{NAME} (this browser)", exact=True)).to_have_count(0)
    finally:
        other.context.close()
    assert snapshot(PROJECT) == before  # nothing was written under the project (the presets folder included)
