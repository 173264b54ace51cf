"""HTTP endpoints: submit a report, then poll (or wait a little) for it by id.

The endpoints are ``async def``: they submit and read with the awaitable calls
(``delay_async``, ``get_async``), so the event loop never blocks on the store.
Run with ``uvicorn fastapi_app.main:app`` next to a worker pool
(``alsek fastapi_app.tasks``).
"""

from __future__ import annotations

from fastapi import FastAPI, Query, Response
from pydantic import BaseModel

from alsek.exceptions import NotFoundError, ResultTimeoutError
from fastapi_app.tasks import build_report, results

app = FastAPI(title="reports")


class ReportRequest(BaseModel):
    customer: str
    days: int = 7


@app.post("/reports", status_code=202)
async def submit_report(request: ReportRequest) -> dict[str, str]:
    """Queue a report; the answer is the id to poll."""
    message = await build_report.delay_async(request.customer, request.days)
    return {"id": message.uuid}


@app.get("/reports/{report_id}")
async def get_report(
    report_id: str, response: Response, wait_ms: int = Query(0, ge=0, le=30_000)
) -> dict[str, object]:
    """The report once a worker built it, waiting up to ``wait_ms`` for it (202 while
    it is pending)."""
    try:
        # keep=True: the client may poll again; the store's ttl removes it later.
        report = await results.get_async(report_id, timeout=wait_ms, keep=True)
    except (NotFoundError, ResultTimeoutError):
        response.status_code = 202
        return {"id": report_id, "status": "pending"}
    return {"id": report_id, "status": "done", "report": report}
