from __future__ import annotations

from celery import shared_task

from screening.services import identification


@shared_task(acks_late=True, reject_on_worker_lost=True)
def import_search(search_id: int, only_if_queued: bool = False) -> str:
    """Import one search's file; safe to run twice (the service restarts cleanly).
    ``only_if_queued``: a re-sent task (``identification.requeue_queued_searches``, or
    ``restart_stale_imports`` when the worker running it died whole)."""
    return identification.run_import(search_id=search_id, only_if_queued=only_if_queued).status


@shared_task(acks_late=True, reject_on_worker_lost=True)
def dedup_search(
    review_id: int, search_id: int | None = None, only_if_pending: bool = False
) -> int:
    """Compare a newly imported search with the review (or all records); safe to re-run.
    ``only_if_pending``: skip a search whose deduplication has run since it was sent
    (``identification.requeue_pending_dedups``, ``restart_stale_dedups``)."""
    from screening.services import dedup

    return dedup.run_dedup(
        review_id=review_id, search_id=search_id, only_if_pending=only_if_pending
    ).merged


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(Exception,),
    retry_backoff=5,
    retry_backoff_max=300,
    max_retries=3,
)
def retrain_ranking(review_id: int, stage: str) -> str:
    """Retrain a stage's relevance model and re-rank its unscreened records; safe to re-run
    (scores are replaced wholesale). A crash leaves the run "failed" with its message and
    is retried three times, 5 s, 10 s and 20 s later (with jitter)."""
    from screening.services import prioritisation

    return prioritisation.retrain_ranking(review_id=review_id, stage=stage).status


@shared_task(acks_late=True, reject_on_worker_lost=True)
def build_document_matrix(review_id: int) -> int:
    """Build the review's document-term matrix after an import, so the first retrain does
    not wait for it; safe to run twice (a cached matrix is found again)."""
    from screening.services import prioritisation

    return prioritisation.build_document_matrix(review_id=review_id)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def run_saved_search(run_id: int) -> str:
    """Run a saved database search and import what it found; safe to run twice (nothing is
    stored before the whole search is fetched, and a finished run is left alone)."""
    from screening.services import connectors

    return connectors.run_saved_search(run_id=run_id).status


@shared_task(acks_late=True)
def run_due_saved_searches() -> int:
    """Queue the scheduled saved searches that are due (Celery beat, every few minutes);
    safe to run twice or from two beats at once (each due search is claimed once)."""
    from screening.services import connectors

    return len(connectors.run_due_saved_searches())


@shared_task(acks_late=True, reject_on_worker_lost=True)
def match_pdf_batch(batch_id: int) -> str:
    """Read and match the PDFs of a batch; safe to run twice (each file is handled once)."""
    from screening.services import pdfs

    return pdfs.run_pdf_batch(batch_id=batch_id).status


@shared_task(acks_late=True, reject_on_worker_lost=True)
def run_oa_lookup(run_id: int) -> str:
    """Look up and attach open-access copies for a run; safe to run twice (a record with a
    result in the run is not looked up again)."""
    from screening.services import openaccess

    return openaccess.run_oa_lookup(run_id=run_id).status


@shared_task(acks_late=True, reject_on_worker_lost=True)
def run_retraction_check(check_id: int) -> str:
    """Check a review's included and full-text records against Crossref's retraction and
    correction notices; safe to run twice (a finished check is left alone, notices are
    stored once)."""
    from screening.services import retractions

    return retractions.run_check(check_id=check_id).status
