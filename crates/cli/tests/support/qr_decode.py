"""Decodes the QR code of a PNG data URL with zxing-cpp (an independent decoder from PyPI):
reads {"data_url": "..."} as JSON on stdin and prints the text the code holds."""
import base64
import io
import json
import sys

import zxingcpp
from PIL import Image

data_url = json.load(sys.stdin)["data_url"]
prefix = "data:image/png;base64,"
assert data_url.startswith(prefix), data_url[:40]
image = Image.open(io.BytesIO(base64.b64decode(data_url[len(prefix):])))
codes = [c for c in zxingcpp.read_barcodes(image) if c.format == zxingcpp.BarcodeFormat.QRCode]
assert len(codes) == 1, f"{len(codes)} QR codes found"
sys.stdout.write(codes[0].text)
