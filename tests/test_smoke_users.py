from __future__ import annotations


def test_create_and_get_user(scim):
    r = scim.post(
        "/Users", json={"userName": "alice@example.com", "name": {"givenName": "Alice", "familyName": "A"}}
    )
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    r2 = scim.get(f"/Users/{body['id']}")
    assert r2.status_code == 200
    assert r2.get_json()["userName"] == "alice@example.com"
