"""The simulator's error answers, with the exact bodies Kalshi sends (three shapes, as recorded)."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An answer other than 2xx, with the exact body Kalshi would send."""

    def __init__(self, status: int, body: Any):
        super().__init__(status)
        self.status = status
        self.body = body


def std_error(status: int, code: str, message: str = "", details: str = "") -> ApiError:
    return ApiError(status, {"error": {"code": code, "message": message or code, "details": details}})


def decode_error(details: str) -> ApiError:
    return ApiError(400, {"code": "bad_request", "message": "bad_request", "details": details})


def validation_error(msg: str) -> ApiError:
    return ApiError(400, {"msg": msg})
