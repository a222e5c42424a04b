"""Credentials for the schemathesis runs of `make conformance`.

Schemathesis calls every operation, logout and user deletion included, so the token it was
given would soon be dead. This provider hands it a working one instead: on a 401 schemathesis
asks again, and gets a fresh account. `COMPTOIR_ROLE` says which kind:

- `user`: a newly registered ordinary account;
- `admin`: the account `st-admin@example.com`, made (or made admin again, if the run demoted or
  deleted it) with `comptoir create-admin`, then logged in.
"""

import json
import os
import subprocess
import urllib.error
import urllib.request
import uuid

import schemathesis

BASE_URL = os.environ["COMPTOIR_URL"]
ROLE = os.environ.get("COMPTOIR_ROLE", "user")
PASSWORD = "conformance-password"
ADMIN_EMAIL = "st-admin@example.com"


def post(path, body):
    request = urllib.request.Request(
        BASE_URL + path,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def user_token():
    email = f"st-{uuid.uuid4().hex[:12]}@example.com"
    status, body = post("/api/register", {"name": "Schemathesis", "email": email, "password": PASSWORD})
    if status != 201:
        raise RuntimeError(f"registering {email}: {status} {body}")
    return body["access_token"]


def admin_token():
    subprocess.run(
        [os.environ["COMPTOIR_BIN"], "create-admin", "--email", ADMIN_EMAIL, "--name", "Schemathesis admin"],
        input=PASSWORD + "\n",
        text=True,
        capture_output=True,
        check=True,
    )
    status, body = post("/api/login", {"email": ADMIN_EMAIL, "password": PASSWORD})
    if status != 200:
        raise RuntimeError(f"logging in as {ADMIN_EMAIL}: {status} {body}")
    return body["access_token"]


# Refreshed every 10 s as well as after a 401, so that an admin the run demoted (403s, not
# 401s) is promoted again soon.
@schemathesis.auth(refresh_interval=10)
class ComptoirAuth:
    def get(self, case, context):
        return admin_token() if ROLE == "admin" else user_token()

    def set(self, case, data, context):
        case.headers = case.headers or {}
        case.headers["Authorization"] = f"Bearer {data}"
