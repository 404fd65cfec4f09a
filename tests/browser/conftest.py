"""Browser test fixtures: one polyvisord lab per session, one fresh headless
Chromium per test (see pvbrowser.py for the rig).  The tests are skipped,
with the reason, when chromium, chromedriver, selenium or the build is
missing.  A test fails on browser console errors it did not provoke."""
import os
import shutil
import tempfile

import pytest

import pvbrowser
from pvbrowser import Browser, Lab


def pytest_collection_modifyitems(config, items):
    reason = pvbrowser.missing()
    if reason:
        here = os.path.dirname(os.path.abspath(__file__))
        for item in items:
            if os.path.abspath(str(item.fspath)).startswith(here + os.sep):
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def lab():
    tmp = tempfile.mkdtemp(prefix="pv-browser-")
    lab = Lab(tmp)
    try:
        yield lab.start()
    finally:
        lab.stop()
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture
def browser(lab):
    b = Browser(lab)
    try:
        yield b
        errors = b.console_errors()
        assert not errors, "browser console errors: %s" % errors
    finally:
        b.quit()


@pytest.fixture
def make_browser(lab):
    """For tests that need another window size; closed at teardown."""
    made = []

    def make(**kw):
        b = Browser(lab, **kw)
        made.append(b)
        return b
    yield make
    try:
        for b in made:
            errors = b.console_errors()
            assert not errors, "browser console errors: %s" % errors
    finally:
        for b in made:
            b.quit()
