"""Delivery on Celery workers: chunks of the ledger as tasks, coordinated through Redis."""
