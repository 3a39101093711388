"""In-memory storage: for tests and experiments. Passes the same contract suite as SQL."""
