"""Checks a Standard Webhooks signature independently of jifen: with Python's own hmac, and
with the `standardwebhooks` package from PyPI when it is installed (scripts/test installs it).

Reads one JSON object on stdin: secret, id, timestamp, signature, body (base64). Exits 0 when
the signature is valid, 1 when it is not, and prints which check refused it."""

import base64
import hashlib
import hmac
import json
import sys


def key_of(secret: str) -> bytes:
    if secret.startswith("whsec_"):
        return base64.b64decode(secret[len("whsec_"):])
    return secret.encode()


def main() -> int:
    m = json.load(sys.stdin)
    body = base64.b64decode(m["body"])
    signed = f"{m['id']}.{m['timestamp']}.".encode() + body
    expected = "v1," + base64.b64encode(
        hmac.new(key_of(m["secret"]), signed, hashlib.sha256).digest()
    ).decode()
    offered = m["signature"].split(" ")
    if not any(hmac.compare_digest(expected, s) for s in offered):
        print("hmac: no signature matches")
        return 1
    try:
        from standardwebhooks.webhooks import Webhook
    except ImportError:
        return 0
    secret = base64.b64encode(key_of(m["secret"])).decode()
    headers = {
        "webhook-id": m["id"],
        "webhook-timestamp": str(m["timestamp"]),
        "webhook-signature": m["signature"],
    }
    try:
        Webhook(secret).verify(body, headers)
    except Exception as e:  # the package's own refusal
        print(f"standardwebhooks: {e}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
