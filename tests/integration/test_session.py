"""The browser console's session: login with "session": true puts the token
in an HttpOnly, SameSite=Strict cookie (not in the body); the cookie alone
reads, but changes need the X-Polyvisor-CSRF header; logout revokes it and
clears the cookie; bearer tokens for scripts are unaffected."""
import requests

from conftest import ADMIN_PASSWORD


def test_session_cookie(daemon):
    s = requests.Session()
    r = s.post(daemon.base + "/api/v1/auth/login",
               json={"username": "admin", "password": ADMIN_PASSWORD, "session": True})
    assert r.status_code == 200 and "token" not in r.json() and r.json()["session"] is True
    cookie = r.headers["Set-Cookie"]
    assert cookie.startswith("pv_session=") and "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie and "Path=/api" in cookie
    assert s.get(daemon.base + "/api/v1/auth/me").json()["username"] == "admin"
    # a change on the cookie alone is refused; with the header it goes through
    body = {"name": "g1"}
    r = s.post(daemon.base + "/api/v1/host-groups", json=body)
    assert r.status_code == 403 and r.json()["error"]["code"] == "csrf_check_failed"
    r = s.post(daemon.base + "/api/v1/host-groups", json=body,
               headers={"X-Polyvisor-CSRF": "1"})
    assert r.status_code == 201
    # scripts' bearer tokens need no such header
    assert daemon.post("/api/v1/host-groups", {"name": "g2"}).status_code == 201
    r = s.post(daemon.base + "/api/v1/auth/logout", headers={"X-Polyvisor-CSRF": "1"})
    assert r.status_code == 204 and "Max-Age=0" in r.headers["Set-Cookie"]
    stale = requests.get(daemon.base + "/api/v1/auth/me", cookies={"pv_session": cookie.split(";")[0].split("=", 1)[1]})
    assert stale.status_code == 401
    assert s.get(daemon.base + "/api/v1/auth/me").status_code == 401
    assert daemon.get("/api/v1/auth/me").status_code == 200
