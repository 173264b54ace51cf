"""HTTP endpoints: submit a report, then poll for it by id.

Run with ``uvicorn fastapi_app.main:app`` next to a worker pool
(``alsek fastapi_app.tasks``).
"""

from __future__ import annotations

from fastapi import FastAPI, Response
from pydantic import BaseModel

from fastapi_app.tasks import build_report, results

app = FastAPI(title="reports")


class ReportRequest(BaseModel):
    customer: str
    days: int = 7


@app.post("/reports", status_code=202)
def submit_report(request: ReportRequest) -> dict[str, str]:
    """Queue a report; the answer is the id to poll."""
    message = build_report.delay(request.customer, request.days)
    return {"id": message.uuid}


@app.get("/reports/{report_id}")
def get_report(report_id: str, response: Response) -> dict[str, object]:
    """The report once a worker built it (202 while it is pending)."""
    if not results.exists(report_id):
        response.status_code = 202
        return {"id": report_id, "status": "pending"}
    # keep=True: the client may poll again; the store's ttl removes it later.
    return {"id": report_id, "status": "done", "report": results.get(report_id, keep=True)}
