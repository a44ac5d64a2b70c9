"""Gray-zone adjudication: outbox relay, Celery worker, clinical summaries, classifiers, fusion."""
