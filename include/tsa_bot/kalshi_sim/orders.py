"""A create-order request, checked as Kalshi checks it before anything reaches the book.

The wire field ``side`` (``bid`` | ``ask`` on the YES book) is read into ``book_side``.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from tsa_bot.kalshi_sim.errors import decode_error, validation_error


def validate_order(body: Any) -> dict[str, Any]:
    """A ``POST /portfolio/events/orders`` body checked as Kalshi checks it, with its decimals read."""
    if not isinstance(body, dict):
        raise decode_error("request body must be a JSON object")
    for name in ("count", "price"):
        if name in body and not isinstance(body[name], str):
            raise decode_error(
                f"json: cannot unmarshal {type(body[name]).__name__} into field {name} of type string"
            )
    for name in ("ticker", "client_order_id", "side", "count", "price"):
        if not body.get(name):
            raise validation_error(
                f"Key: 'CreateOrderV2Request.{name}' Error:Field validation for '{name}' failed"
            )
    if body["side"] not in ("bid", "ask"):
        raise validation_error("side must be one of bid ask")
    tif = body.get("time_in_force", "good_till_canceled")
    if tif not in ("good_till_canceled", "immediate_or_cancel", "fill_or_kill"):
        raise validation_error(
            "time_in_force must be one of good_till_canceled immediate_or_cancel fill_or_kill"
        )
    if body.get("expiration_time") is not None and tif != "good_till_canceled":
        raise validation_error("expiration_time is allowed only with good_till_canceled")
    try:
        price = Decimal(body["price"])
        count = Decimal(body["count"])
    except InvalidOperation:
        raise decode_error("price and count must be decimal strings") from None
    if count <= 0 or count != count.quantize(Decimal("0.01")):
        raise validation_error("count must be positive with at most 2 decimals")
    return {
        "ticker": str(body["ticker"]),
        "client_order_id": str(body["client_order_id"]),
        "book_side": body["side"],
        "count": count,
        "price": price,
        "time_in_force": tif,
        "post_only": bool(body.get("post_only", False)),
    }
