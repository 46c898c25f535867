"""When things run and who gets them: APScheduler jobs, sweeps, and the exactly-once delivery ledger."""
