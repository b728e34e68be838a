"""Front end: pages of what a run did (`repo-rlm trace view`)."""
