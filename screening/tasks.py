from __future__ import annotations

from celery import shared_task

from screening.services import imports


@shared_task(acks_late=True, reject_on_worker_lost=True)
def import_search(search_id: int) -> str:
    """Import one search's file; safe to run twice (the service restarts cleanly)."""
    return imports.run_import(search_id=search_id).status
