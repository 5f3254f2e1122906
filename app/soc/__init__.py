"""Security operations: alerts (ingest, deduplication, triage); cases come later."""
