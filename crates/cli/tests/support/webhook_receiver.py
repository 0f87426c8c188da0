"""A webhook receiver for the tests, independent of jifen: it checks every delivery's Standard
Webhooks signature with the `standardwebhooks` package from PyPI and with Python's own hmac,
validates each event against the schema the OpenAPI document declares for its type (with the
`jsonschema` package), and appends what it received to a JSON-lines file.

    webhook_receiver.py PORT OUT.jsonl SECRETS.json OPENAPI.json CONTROL

SECRETS.json is a JSON list of secrets (`whsec_…`), read again at every request so the test can
change it; a delivery no listed secret verifies is answered 401 (and retried by the sender).
CONTROL holds the behaviour, also read at every request: `ok`, `fail` (answer 500) or `slow:N`
(answer 200 after N seconds). Each line of OUT is one event received with a valid signature:
the event, the indexes of the secrets that verified it, and any schema error.
"""

import base64
import hashlib
import hmac
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jsonschema
from standardwebhooks.webhooks import Webhook

PORT, OUT, SECRETS, OPENAPI, CONTROL = sys.argv[1:6]
SCHEMAS = json.load(open(OPENAPI))["components"]["schemas"]
LOCK = threading.Lock()


def key_of(secret):
    return base64.b64decode(secret[len("whsec_"):])


def by_hmac(secret, headers, body):
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    mac = hmac.new(key_of(secret), signed, hashlib.sha256).digest()
    expected = "v1," + base64.b64encode(mac).decode()
    return any(hmac.compare_digest(expected, s) for s in headers["webhook-signature"].split(" "))


def by_package(secret, headers, body):
    try:
        Webhook(secret).verify(body, headers)
        return True
    except Exception:
        return False


def schema_error(event):
    schema = SCHEMAS.get("WebhookEvent." + str(event.get("type")))
    if schema is None:
        return f"no schema for type {event.get('type')!r}"
    try:
        jsonschema.Draft202012Validator(schema).validate(event)
        return None
    except jsonschema.ValidationError as e:
        return e.message


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def answer(self, status, text):
        body = text.encode()
        self.send_response(status)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        mode = open(CONTROL).read().strip()
        if mode == "fail":
            return self.answer(500, "failing on purpose")
        if mode.startswith("slow:"):
            time.sleep(float(mode[5:]))
        headers = {k: self.headers.get(k, "") for k in
                   ("webhook-id", "webhook-timestamp", "webhook-signature")}
        secrets = json.load(open(SECRETS))
        verified = [i for i, s in enumerate(secrets)
                    if by_hmac(s, headers, body) and by_package(s, headers, body)]
        if not verified:
            return self.answer(401, "no secret verifies this delivery")
        parsed = json.loads(body)
        events = parsed["events"] if "events" in parsed and "type" not in parsed else [parsed]
        now_ms = int(time.time() * 1000)
        with LOCK, open(OUT, "a") as out:
            for e in events:
                out.write(json.dumps({
                    "event": e, "verified": verified, "schema_error": schema_error(e),
                    "webhook_id": headers["webhook-id"], "received_ms": now_ms,
                }) + "\n")
        self.answer(200, "ok")


class Server(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # a sender killed mid-request (the tests do that) is not news


if __name__ == "__main__":
    server = Server(("127.0.0.1", int(PORT)), Handler)
    server.daemon_threads = True
    print("listening", flush=True)
    server.serve_forever()
