"""Front end: the evaluation harness (`repo-rlm eval`): strategies compared on the same questions."""
