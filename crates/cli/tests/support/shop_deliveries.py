"""Builds shop platforms' webhook deliveries, signed, independently of jifen: payload shapes
from each platform's public documentation, signatures with Python's own hmac and hashlib (and,
for generic, the `standardwebhooks` package from PyPI, which scripts/test installs).

Reads one JSON object on stdin:
  {"kind", "secret", "client_id", "client_secret", "now",
   "events": [{"stage": "paid"|"completed"|"refunded", "order", "buyer", "phone", "address",
               "fen", "refund", "total_fen", "version"}]}
and prints a JSON list with one delivery per event: {"headers": [[name, value]], "body"}.
"""

import base64
import hashlib
import hmac
import json
import sys
import urllib.parse
import uuid


def yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def b64_hmac(secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def shopify(m, e):
    if e["stage"] == "refunded":
        topic = "refunds/create"
        payload = {"id": int(e["refund"]), "order_id": int(e["order"]), "note": None,
                   "transactions": [{"id": 1, "kind": "refund", "status": "success",
                                     "amount": yuan(e["fen"]), "currency": "CNY"}]}
    else:
        topic = "orders/paid" if e["stage"] == "paid" else "orders/fulfilled"
        customer = {"id": int(e["buyer"])} if e.get("buyer") else None
        payload = {"id": int(e["order"]), "name": f"#{e['order']}", "currency": "CNY",
                   "total_price": yuan(e["total_fen"]), "financial_status": "paid",
                   "customer": customer, "phone": e.get("phone"), "note_attributes": []}
        if e.get("address"):
            payload["shipping_address"] = {"address1": e["address"], "address2": None,
                                           "city": "Shanghai", "province": None, "zip": None,
                                           "country": "China", "phone": None}
    body = json.dumps(payload).encode()
    headers = [["X-Shopify-Topic", topic], ["X-Shopify-Webhook-Id", str(uuid.uuid4())],
               ["X-Shopify-Shop-Domain", "brand.myshopify.com"],
               ["X-Shopify-Hmac-Sha256", b64_hmac(m["secret"], body)]]
    return headers, body


def woocommerce(m, e):
    status = {"paid": "processing", "completed": "completed", "refunded": "processing"}[e["stage"]]
    refunds = []
    if e["stage"] == "refunded":
        if e["fen"] == e["total_fen"]:
            status = "refunded"
        else:
            refunds = [{"id": int(e["refund"]), "reason": "", "total": "-" + yuan(e["fen"])}]
    payload = {"id": int(e["order"]), "status": status, "currency": "CNY",
               "total": yuan(e["total_fen"]), "customer_id": int(e.get("buyer") or 0),
               "billing": {"first_name": "", "phone": e.get("phone") or ""},
               "refunds": refunds, "meta_data": []}
    if e.get("address"):
        payload["shipping"] = {"first_name": "", "address_1": e["address"], "address_2": "",
                               "city": "Shanghai", "state": "", "postcode": "", "country": "CN"}
    body = json.dumps(payload).encode()
    headers = [["X-WC-Webhook-Topic", "order.updated"], ["X-WC-Webhook-Resource", "order"],
               ["X-WC-Webhook-Event", "updated"], ["X-WC-Webhook-ID", "7"],
               ["X-WC-Webhook-Delivery-ID", uuid.uuid4().hex],
               ["X-WC-Webhook-Signature", b64_hmac(m["secret"], body)]]
    return headers, body


def youzan(m, e):
    kind, status = {"paid": ("trade_TradePaid", "WAIT_SELLER_SEND_GOODS"),
                    "completed": ("trade_TradeSuccess", "TRADE_SUCCESS"),
                    "refunded": ("youzan_trade_RefundSuccess", "TRADE_SUCCESS")}[e["stage"]]
    if e["stage"] == "paid":
        buyer = {"yz_open_id": e.get("buyer") or "", "buyer_phone": e.get("phone") or ""}
        msg = {"full_order_info": {"order_info": {"tid": e["order"], "status": status},
                                   "buyer_info": buyer,
                                   "pay_info": {"payment": yuan(e["total_fen"]),
                                                "total_fee": yuan(e["total_fen"]),
                                                "post_fee": "0.00"}}}
        if e.get("address"):
            msg["full_order_info"]["address_info"] = {
                "receiver_tel": e.get("phone") or "", "delivery_province": "上海市",
                "delivery_city": "上海市", "delivery_district": "浦东新区",
                "delivery_address": e["address"]}
    elif e["stage"] == "completed":
        msg = {"tid": e["order"], "status": status}
    else:
        msg = {"tid": e["order"], "refund_id": e["refund"], "refunded_fee": yuan(e["fen"])}
    payload = {"client_id": m["client_id"], "id": e["order"], "kdt_id": 1001, "kdt_name": "brand",
               "mode": 1, "msg": urllib.parse.quote(json.dumps(msg)), "sendCount": 0,
               "sign": "", "status": status, "test": False, "type": kind,
               "version": e.get("version", 1)}
    body = json.dumps(payload).encode()
    sign = hashlib.md5(m["client_id"].encode() + body + m["client_secret"].encode()).hexdigest()
    headers = [["Event-Sign", sign], ["Event-Type", kind], ["Client-Id", m["client_id"]]]
    return headers, body


def weimob(m, e):
    if e["stage"] == "refunded":
        topic, event = "weimob_shop.rights", "rightsStatusUpdate"
        msg = {"orderNo": int(e["order"]), "rightsId": int(e["refund"]),
               "refundAmount": yuan(e["fen"])}
    else:
        topic, event = "weimob_shop.order", "orderStatusUpdate"
        msg = {"orderNo": int(e["order"]), "orderStatus": 2 if e["stage"] == "paid" else 8,
               "wid": int(e["buyer"]) if e.get("buyer") else None}
        if e["stage"] == "paid" and not e.get("no_amount"):
            # A JSON number in yuan, as Weimob writes amounts.
            msg["paymentAmount"] = float(yuan(e["total_fen"]))
        if e.get("no_amount"):
            event = "statusUpdate"
    msg_body = json.dumps(msg)
    mid = uuid.uuid4().hex
    sign = hashlib.md5((m["client_id"] + mid + msg_body + m["client_secret"]).encode()).hexdigest()
    payload = {"id": mid, "topic": topic, "event": event, "msgBody": msg_body,
               "bosId": 4021, "clientId": m["client_id"], "sign": sign}
    return [["Content-Type", "application/json"]], json.dumps(payload).encode()


def generic(m, e):
    kind = {"paid": "order_paid", "completed": "order_completed", "refunded": "order_refunded"}
    payload = {"type": kind[e["stage"]], "order": e["order"]}
    if e["stage"] == "paid":
        if e.get("buyer"):
            payload["buyer"] = e["buyer"]
        if e.get("phone"):
            payload["phone"] = e["phone"]
        if e.get("address"):
            payload["address"] = e["address"]
        payload.update({"amount_fen": e["total_fen"], "currency": "CNY"})
    if e["stage"] == "refunded":
        payload.update({"refund": e["refund"], "amount_fen": e["fen"]})
    body = json.dumps(payload).encode()
    mid = "msg_" + uuid.uuid4().hex
    ts = str(m["now"])
    key = base64.b64decode(m["secret"][len("whsec_"):])
    sig = base64.b64encode(hmac.new(key, f"{mid}.{ts}.".encode() + body, hashlib.sha256).digest())
    signature = "v1," + sig.decode()
    try:
        from standardwebhooks.webhooks import Webhook
        from datetime import datetime, timezone
        expected = Webhook(m["secret"]).sign(mid, datetime.fromtimestamp(int(ts), tz=timezone.utc), body.decode())
        assert expected == signature, (expected, signature)
    except ImportError:
        pass
    return [["webhook-id", mid], ["webhook-timestamp", ts], ["webhook-signature", signature]], body


def main() -> int:
    m = json.load(sys.stdin)
    build = {"shopify": shopify, "woocommerce": woocommerce, "youzan": youzan,
             "weimob": weimob, "generic": generic}[m["kind"]]
    out = []
    for e in m["events"]:
        headers, body = build(m, e)
        out.append({"headers": headers, "body": body.decode()})
    json.dump(out, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
