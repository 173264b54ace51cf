"""A FastAPI app that hands reports to Alsek workers (see docs/recipes/fastapi.md)."""
