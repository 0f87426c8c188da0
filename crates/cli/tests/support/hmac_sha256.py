"""Prints the base64 HMAC-SHA256 of a message, with Python's own hmac: reads one JSON object on
stdin, {"key": base64 of the key, "message": the text}."""

import base64
import hashlib
import hmac
import json
import sys

m = json.load(sys.stdin)
mac = hmac.new(base64.b64decode(m["key"]), m["message"].encode(), hashlib.sha256).digest()
print(base64.b64encode(mac).decode())
