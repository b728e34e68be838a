"""`repo-rlm review`: a pull-request review that checks every caller of what changed."""
