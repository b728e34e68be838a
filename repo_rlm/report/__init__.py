"""`repo-rlm report`: an architecture report from the index (static facts) with optional model summaries."""
