import sys

from repo_rlm.lsp.server import main

sys.exit(main())
