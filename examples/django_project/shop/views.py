"""Views: place an order (queues the receipt), then look the receipt up by id."""

from __future__ import annotations

import json

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from shop.tasks import results, send_receipt


@csrf_exempt
@require_POST
def place_order(request: HttpRequest) -> JsonResponse:
    """Accept an order and queue its receipt: the response does not wait for email."""
    body = json.loads(request.body)
    message = send_receipt.delay(int(body["order_id"]), str(body["email"]))
    return JsonResponse({"receipt": message.uuid}, status=202)


@require_GET
def receipt(request: HttpRequest, receipt_id: str) -> JsonResponse:
    """The receipt's outcome once a worker sent it (202 while pending)."""
    if not results.exists(receipt_id):
        return JsonResponse({"status": "pending"}, status=202)
    return JsonResponse({"status": "sent", "detail": results.get(receipt_id, keep=True)})
